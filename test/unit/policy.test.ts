import { describe, expect, it } from 'vitest';
import { Forbidden } from '../../src/domain/errors.js';
import { type AccessRequestSpec, decide, type Guardrails, type Policy } from '../../src/domain/policy.js';

const guardrails: Guardrails = { allowClusterAdmin: false, forbiddenRoles: [] };
const policies: Policy[] = [
  {
    name: 'payments-edit',
    match: { groups: ['devs'], clusters: ['dev'], namespaces: ['payments'], roles: ['edit'] },
    decision: 'approval',
    approval: { approvers: { users: [], groups: ['sre-leads'] }, required: 1, timeoutMs: 3_600_000 },
    maxDurationMs: 7_200_000,
  },
  {
    name: 'no-secrets-team',
    match: { namespaces: ['vault-*'] },
    decision: 'deny',
    maxDurationMs: 1,
    message: 'never',
  },
  {
    name: 'view-anywhere',
    match: { groups: ['devs'], roles: ['view'] },
    decision: 'auto',
    maxDurationMs: 28_800_000,
  },
];

function spec(overrides: Partial<AccessRequestSpec>): AccessRequestSpec {
  return {
    requester: 'alice',
    requesterGroups: ['devs'],
    cluster: 'dev',
    role: 'edit',
    roleKind: 'ClusterRole',
    namespace: 'payments',
    durationMs: 1_800_000,
    reason: 'r',
    ticket: null,
    ...overrides,
  };
}

describe('decide', () => {
  it('the first matching policy decides', () => {
    expect(decide(policies, guardrails, spec({})).policy.name).toBe('payments-edit');
    expect(decide(policies, guardrails, spec({})).decision).toBe('approval');
    expect(decide(policies, guardrails, spec({ role: 'view', namespace: null })).decision).toBe('auto');
  });

  it('a deny policy denies with its message', () => {
    expect(() => decide(policies, guardrails, spec({ role: 'view', namespace: 'vault-prod' }))).toThrow(
      'never',
    );
  });

  it('no match is a denial that says so', () => {
    expect(() => decide(policies, guardrails, spec({ requesterGroups: ['qa'] }))).toThrow(
      /no policy allows alice to request ClusterRole edit in namespace payments on cluster dev/,
    );
  });

  it('a namespaced policy never matches a cluster-wide request', () => {
    expect(() => decide(policies, guardrails, spec({ namespace: null }))).toThrow(Forbidden);
  });

  it('enforces maxDuration', () => {
    expect(() => decide(policies, guardrails, spec({ durationMs: 3 * 3_600_000 }))).toThrow(Forbidden);
    expect(() => decide(policies, guardrails, spec({ durationMs: 3 * 3_600_000 }))).toThrow(
      /exceeds the maximum 2h/,
    );
  });

  it('never grants cluster-admin unless the config allows it, whatever a policy says', () => {
    const anything: Policy[] = [{ name: 'all', match: {}, decision: 'auto', maxDurationMs: 3_600_000 }];
    const request = spec({ role: 'cluster-admin', namespace: null });
    expect(() => decide(anything, guardrails, request)).toThrow(/cluster-admin is never granted/);
    expect(decide(anything, { ...guardrails, allowClusterAdmin: true }, request).decision).toBe('auto');
  });

  it('refuses forbidden roles', () => {
    const anything: Policy[] = [{ name: 'all', match: {}, decision: 'auto', maxDurationMs: 3_600_000 }];
    expect(() => decide(anything, { ...guardrails, forbiddenRoles: ['edit'] }, spec({}))).toThrow(Forbidden);
  });
});
