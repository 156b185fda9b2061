import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/domain/policy/decide.js';
import { matchPolicy } from '../../../src/domain/policy/matching.js';
import type { ApprovalRule, Policy, RoleRule, UsageRecord } from '../../../src/domain/policy/types.js';
import { type Target, targetKey } from '../../../src/domain/target.js';
import { editRules, viewRules } from './bootstrap-roles.js';
import { facts, HOUR, input, MINUTE, policy, policySet, target } from './fixtures.js';

const approval: ApprovalRule = {
  approvers: { users: [], groups: ['leads'] },
  required: 2,
  timeoutMs: HOUR,
  denyEnds: true,
  requireComment: false,
};
const rules = (entries: [Target, RoleRule[] | null][]) => new Map(entries.map(([t, r]) => [targetKey(t), r]));

describe('decide', () => {
  const sre = policy('sre', { match: { groups: ['sre'] } });
  const devs = policy('devs', { match: { groups: ['devs'], namespaces: ['payments', 'orders'] } });

  it('takes the first matching policy and traces every one before it', () => {
    const later = policy('later');
    const d = decide(policySet([sre, devs, later]), input(), facts());
    expect(d.outcome).toBe('auto');
    expect(d.policy).toEqual({ name: 'devs', source: 'elevate.yaml policies[devs]' });
    expect(d.refusal).toBeNull();
    expect(d.approval).toBeNull();
    expect(d.durationMs).toBe(HOUR);
    expect(d.trace).toEqual([
      {
        policy: 'sre',
        source: 'elevate.yaml policies[sre]',
        result: 'skipped',
        matcher: 'groups',
        reason: 'the requester is in none of [sre]',
      },
      { policy: 'devs', source: 'elevate.yaml policies[devs]', result: 'matched' },
    ]);
    expect(d.notes).toEqual([
      'rules of ClusterRole edit on cluster dev unknown (offline): not checked for escalation',
    ]);
  });

  it('follows the order of set.policies (priority order is the loader’s job)', () => {
    const d = decide(
      policySet([policy('first', { decision: 'approval', approval }), devs]),
      input(),
      facts(),
    );
    expect(d.policy?.name).toBe('first');
    expect(d.outcome).toBe('approval');
    expect(d.approval).toEqual(approval);
  });

  it('uses the policy default duration when the request gives none', () => {
    const p = policy('p', { defaultDurationMs: 15 * MINUTE });
    expect(decide(policySet([p]), input({ durationMs: null }), facts()).durationMs).toBe(15 * MINUTE);
  });

  describe('guardrails before any policy', () => {
    it.each([
      ['cluster-admin', target({ role: 'cluster-admin' }), 'cluster-admin is never granted'],
      [
        'a forbidden role',
        target({ role: 'breakglass' }),
        'role breakglass is forbidden by guardrails.forbiddenRoles',
      ],
    ])('refuse %s with no policy and no trace', (_name, t, message) => {
      const set = policySet([policy('anything')]);
      set.guardrails.forbiddenRoles = ['breakglass'];
      const d = decide(set, input({ targets: [target(), t] }), facts());
      expect(d.outcome).toBe('refused');
      expect(d.policy).toBeNull();
      expect(d.trace).toEqual([]);
      expect(d.refusal?.kind).toBe('guardrail');
      expect(d.refusal?.message).toContain(message);
    });
  });

  describe('no match', () => {
    it('names the requester and the target', () => {
      const d = decide(policySet([sre]), input(), facts());
      expect(d.refusal).toEqual({
        kind: 'no-match',
        message: 'no policy allows alice to request ClusterRole edit in namespace payments on cluster dev',
      });
      expect(d.policy).toBeNull();
      expect(d.trace).toHaveLength(1);
    });

    it('names the one target a policy allowing the others does not', () => {
      const ops = policy('ops-edit', {
        match: { groups: ['devs'], namespaces: ['payments', 'orders', 'kube-*'] },
      });
      const kube = target({ cluster: 'dev2', namespace: 'kube-system' });
      const d = decide(
        policySet([sre, ops]),
        input({ targets: [target(), kube, target({ namespace: 'orders' })] }),
        facts(),
      );
      expect(d.refusal?.message).toBe(
        'no policy allows alice all 3 targets: policy ops-edit allows the others but not ClusterRole edit in namespace kube-system on cluster dev2 (namespaces)',
      );
      expect(d.trace[1]).toMatchObject({ policy: 'ops-edit', matcher: 'namespaces', target: kube });
    });

    it('picks the policy that allows the most targets, and lists every target it does not', () => {
      const one = policy('one', { match: { namespaces: ['a'] } });
      const two = policy('two', { match: { namespaces: ['a', 'b'] } });
      const ts = ['a', 'b', 'c', 'd'].map((n) => target({ namespace: n }));
      const d = decide(policySet([one, two]), input({ targets: ts, profile: 'squad' }), facts());
      expect(d.refusal?.message).toBe(
        'no policy allows alice all 4 targets of profile squad: policy two allows 2 of them but not ClusterRole edit in namespace c on cluster dev (namespaces) nor ClusterRole edit in namespace d on cluster dev (namespaces)',
      );
    });

    it('says only that when no policy allows any of the targets', () => {
      const d = decide(
        policySet([sre]),
        input({ targets: [target(), target({ namespace: 'orders' })] }),
        facts(),
      );
      expect(d.refusal?.message).toBe('no policy allows alice all 2 targets');
    });
  });

  it('refuses with a deny policy’s message, keeping the trace', () => {
    const deny = policy('freeze', { decision: 'deny', message: 'change freeze until Monday' });
    const d = decide(policySet([sre, deny, devs]), input(), facts());
    expect(d).toMatchObject({
      outcome: 'refused',
      policy: { name: 'freeze' },
      refusal: { kind: 'policy', message: 'change freeze until Monday' },
    });
    expect(d.trace.map((e) => e.result)).toEqual(['skipped', 'matched']);
    const plain = decide(policySet([policy('freeze', { decision: 'deny' })]), input(), facts());
    expect(plain.refusal?.message).toBe('denied by policy freeze');
  });

  describe('role rules and existence, with the matched policy', () => {
    it('refuses an escalating role, naming the rule', () => {
      const d = decide(policySet([devs]), input(), facts({ roleRules: rules([[target(), editRules]]) }));
      expect(d.outcome).toBe('refused');
      expect(d.policy?.name).toBe('devs');
      expect(d.refusal?.kind).toBe('guardrail');
      expect(d.refusal?.rule).toEqual({
        apiGroups: [''],
        resources: ['serviceaccounts'],
        verbs: ['impersonate'],
      });
      expect(d.trace).toHaveLength(1);
      expect(d.notes).toEqual([]);
    });

    it('grants it when the matched policy lists it in allowEscalatingRoles', () => {
      const p = { ...devs, allowEscalatingRoles: ['edit'] };
      const d = decide(policySet([p]), input(), facts({ roleRules: rules([[target(), editRules]]) }));
      expect(d.outcome).toBe('auto');
    });

    it('judges every target', () => {
      const view = target({ role: 'view', namespace: 'orders' });
      const d = decide(
        policySet([policy('p')]),
        input({ targets: [view, target()] }),
        facts({
          roleRules: rules([
            [view, viewRules],
            [target(), editRules],
          ]),
        }),
      );
      expect(d.refusal?.message).toMatch(/^ClusterRole edit in namespace payments on cluster dev escalates/);
    });

    it('refuses a role that does not exist', () => {
      const d = decide(policySet([devs]), input(), facts({ roleRules: rules([[target(), null]]) }));
      expect(d.refusal).toEqual({
        kind: 'constraint',
        field: 'spec.role',
        message: 'ClusterRole edit does not exist on cluster dev',
      });
    });

    it('refuses a namespace that does not exist', () => {
      const d = decide(
        policySet([devs]),
        input(),
        facts({ namespaceLabels: new Map([['dev/payments', null]]) }),
      );
      expect(d.refusal).toEqual({
        kind: 'constraint',
        field: 'spec.namespace',
        message: 'namespace payments does not exist on cluster dev',
      });
    });
  });

  it('refuses on the policy’s constraints, keeping policy, trace and duration', () => {
    const p = policy('p', { maxDurationMs: HOUR, requireTicket: { pattern: null } });
    const long = decide(policySet([sre, p]), input({ durationMs: 2 * HOUR }), facts());
    expect(long).toMatchObject({
      outcome: 'refused',
      policy: { name: 'p' },
      durationMs: 2 * HOUR,
      refusal: { kind: 'constraint', field: 'spec.duration' },
    });
    expect(long.trace).toHaveLength(2);
    const noTicket = decide(policySet([p]), input(), facts());
    expect(noTicket.refusal).toMatchObject({ kind: 'constraint', field: 'spec.ticket' });
    expect(decide(policySet([p]), input({ ticket: 'INC-1' }), facts()).outcome).toBe('auto');
  });

  it('refuses over a limit, saying when it frees up', () => {
    const p = policy('payments-edit', { maxActivePerUser: 1 });
    const live: UsageRecord = {
      requestId: 'r1',
      requester: 'alice',
      policy: 'payments-edit',
      targets: [target({ namespace: 'orders' })],
      live: true,
      endsAt: new Date('2026-05-06T10:30:00Z'),
      endedAt: null,
    };
    const d = decide(policySet([p]), input(), facts({ usage: [live] }));
    expect(d.refusal).toEqual({
      kind: 'limit',
      message:
        'policy payments-edit allows 1 live grant per user (maxActivePerUser); the next frees up at 2026-05-06T10:30:00.000Z',
      freesAt: new Date('2026-05-06T10:30:00Z'),
    });
    expect(d.policy?.name).toBe('payments-edit');
  });

  it('checks constraints before limits', () => {
    const p = policy('p', { maxActive: 0, maxDurationMs: MINUTE * 30 });
    expect(decide(policySet([p]), input(), facts()).refusal?.kind).toBe('constraint');
  });

  it('keeps notes of what it could not judge', () => {
    const sel = policy('sel', { match: { namespaceSelector: { matchLabels: { team: 'payments' } } } });
    const d = decide(policySet([sel, policy('any')]), input(), facts());
    expect(d.notes).toEqual([
      'labels of namespace payments on cluster dev unknown (offline)',
      'rules of ClusterRole edit on cluster dev unknown (offline): not checked for escalation',
    ]);
  });

  it('refuses a request without targets', () => {
    expect(decide(policySet([policy('p')]), input({ targets: [] }), facts()).refusal).toEqual({
      kind: 'constraint',
      field: 'spec.targets',
      message: 'the request names no target',
    });
  });

  it('judges a new set afresh (the compiled form is per set)', () => {
    const a = policySet([sre]);
    expect(decide(a, input(), facts()).outcome).toBe('refused');
    const b = policySet([sre, devs]);
    expect(decide(b, input(), facts()).outcome).toBe('auto');
    expect(decide(a, input(), facts()).outcome).toBe('refused');
  });
});

describe('decide: the who index agrees with judging each policy alone', () => {
  const patterns: Partial<Policy['match']>[] = [
    {},
    { users: ['alice'] },
    { users: ['al*'] },
    { users: ['*ice'] },
    { users: ['a*e'] },
    { users: ['*'] },
    { users: [] },
    { users: ['bob'], groups: ['devs'] },
    { groups: ['dev*'] },
    { groups: ['*-oncall'] },
    { groups: ['sre', 'team-*'] },
    { serviceAccounts: ['system:serviceaccount:ci:*'] },
    { serviceAccounts: ['system:serviceaccount:*:deployer'] },
    { users: ['carol'], serviceAccounts: ['system:serviceaccount:ci:*'], groups: ['x'] },
  ];
  const requesters: [string, string[]][] = [
    ['alice', ['devs']],
    ['alice', []],
    ['bob', ['team-7', 'db-oncall']],
    ['system:serviceaccount:ci:deployer', ['system:serviceaccounts']],
    ['system:serviceaccount:cd:deployer', []],
    ['al', ['developers']],
    ['', []],
  ];
  it.each(requesters)('%s %j', (requester, groups) => {
    // Each policy on its own never matches, so decide walks them all and traces each one.
    const policies = patterns.map((match, i) =>
      policy(`p${i}`, { match: { ...match, clusters: ['nowhere'] } }),
    );
    const set = policySet(policies);
    const req = input({ requester, groups });
    const d = decide(set, req, facts());
    expect(d.trace.map((e) => e.matcher)).toEqual(
      policies.map((p) => matchPolicy(set, p, req, facts()).entry.matcher),
    );
  });
});
