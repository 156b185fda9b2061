import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/domain/policy/decide.js';
import { formatDecision, formatTraceEntry } from '../../../src/domain/policy/explain.js';
import type { Decision } from '../../../src/domain/policy/types.js';
import { facts, HOUR, input, policy, policySet, target } from './fixtures.js';

describe('formatDecision', () => {
  it('shows the policy that allowed, every policy before it and the notes', () => {
    const set = policySet([
      policy('sre', { source: 'elevate.yaml policies[0]', match: { groups: ['sre'] } }),
      policy('devs', { source: 'elevate.yaml policies[1]', match: { groups: ['devs'] } }),
    ]);
    expect(formatDecision(decide(set, input(), facts()))).toBe(
      [
        'allowed by policy devs (elevate.yaml policies[1]) for 1h, no approval needed',
        'policies considered, in order:',
        '  ✗ policy sre (elevate.yaml policies[0]): groups — the requester is in none of [sre]',
        '  ✓ policy devs (elevate.yaml policies[1]): matched',
        'note: rules of ClusterRole edit on cluster dev unknown (offline): not checked for escalation',
      ].join('\n'),
    );
  });

  it('shows who must approve', () => {
    const p = policy('prod', {
      source: 'elevate.yaml policies[2]',
      decision: 'approval',
      approval: {
        approvers: { users: ['carol'], groups: ['leads'] },
        required: 2,
        timeoutMs: HOUR / 2,
        denyEnds: true,
        requireComment: false,
      },
    });
    const d = decide(policySet([p]), input({ durationMs: 2 * HOUR }), facts({ roleRules: new Map() }));
    expect(formatDecision(d).split('\n')[0]).toBe(
      'needs approval by policy prod (elevate.yaml policies[2]) for 2h: 2 approvals from users [carol] or groups [leads] within 30m',
    );
  });

  it('shows a refusal with its kind, field and the target a policy failed for', () => {
    const set = policySet([
      policy('ops', { source: 'elevate.yaml policies[0]', match: { namespaces: ['kube-*'] } }),
    ]);
    const text = formatDecision(
      decide(set, input({ targets: [target({ namespace: 'kube-system' })] }), facts()),
    );
    expect(text).toBe(
      [
        'refused',
        'policies considered, in order:',
        '  ✗ policy ops (elevate.yaml policies[0]): namespaces — namespace kube-system is protected: only a policy naming it literally matches [ClusterRole edit in namespace kube-system on cluster dev]',
        'refusal [no-match]: no policy allows alice to request ClusterRole edit in namespace kube-system on cluster dev',
      ].join('\n'),
    );
    const long = decide(
      policySet([policy('p', { maxDurationMs: HOUR })]),
      input({ durationMs: 2 * HOUR }),
      facts(),
    );
    expect(formatDecision(long)).toContain(
      'refusal [constraint] (spec.duration): duration 2h exceeds the maximum 1h of policy p (maxDuration)',
    );
    expect(formatDecision(long).split('\n')[0]).toBe('refused by policy p (elevate.yaml policies[p])');
  });

  it('shows a guardrail refusal without a trace', () => {
    const d: Decision = decide(
      policySet([policy('p')]),
      input({ targets: [target({ role: 'cluster-admin' })] }),
      facts(),
    );
    expect(formatDecision(d)).toBe(
      'refused\nrefusal [guardrail]: cluster-admin is never granted: the config does not allow it (guardrails.allowClusterAdmin)',
    );
  });

  it('formats a matched entry and a skipped one', () => {
    expect(formatTraceEntry({ policy: 'a', source: 's', result: 'matched' })).toBe('✓ policy a (s): matched');
    expect(
      formatTraceEntry({ policy: 'a', source: 's', result: 'skipped', matcher: 'when', reason: 'r' }),
    ).toBe('✗ policy a (s): when — r');
  });
});
