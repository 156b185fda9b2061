import { describe, expect, it } from 'vitest';
import { lintPolicySet, profileProblems, shadowedPolicies } from '../../src/domain/policy/lint.js';
import type { Policy, PolicyMatch, PolicySet, Profile } from '../../src/domain/policy/types.js';

const policy = (name: string, match: PolicyMatch, decision: Policy['decision'] = 'auto'): Policy => ({
  name,
  priority: 0,
  source: `e.yaml policies[${name}]`,
  match,
  decision,
  maxDurationMs: 3_600_000,
  allowEscalatingRoles: [],
});

const setOf = (policies: Policy[], profiles: Profile[] = []): PolicySet => ({
  policies,
  profiles,
  guardrails: {
    allowClusterAdmin: false,
    forbiddenRoles: ['imperson*'],
    protectedNamespaces: ['kube-system', 'kube-public', 'kube-node-lease'],
  },
  limits: { minDurationMs: 60_000, maxDurationMs: 604_800_000, maxScheduleAheadMs: 604_800_000 },
  clusterLabels: { dev: { env: 'dev' }, prod: { env: 'prod' } },
  digest: 'x',
});

/** Whether `later` is reported as never matching because of `earlier`. */
const shadows = (earlier: PolicyMatch, later: PolicyMatch): boolean => {
  const warnings = shadowedPolicies(setOf([policy('E', earlier), policy('L', later)]));
  return warnings.some((w) => w.where.includes('(L)') && w.message.includes('(E)'));
};

describe('policy lint: a policy an earlier one always wins over', () => {
  it.each<[string, PolicyMatch, PolicyMatch, boolean]>([
    ['match-all shadows anything', {}, { groups: ['devs'], roles: ['edit'], namespaces: ['a'] }, true],
    ['same matchers', { groups: ['devs'], roles: ['view'] }, { groups: ['devs'], roles: ['view'] }, true],
    ['broader glob', { namespaces: ['team-*'] }, { namespaces: ['team-a', 'team-b*'] }, true],
    ['narrower glob', { namespaces: ['team-a*'] }, { namespaces: ['team-*'] }, false],
    [
      'glob list not covering every entry',
      { namespaces: ['team-*'] },
      { namespaces: ['team-a', 'ops'] },
      false,
    ],
    ['a user list covers fewer users', { users: ['alice'] }, { users: ['alice', 'bob'] }, false],
    ['groups narrower on the later one', { groups: ['devs', 'sre'] }, { groups: ['sre'] }, true],
    ['later matches everyone, earlier only some', { groups: ['devs'] }, {}, false],
    ['users * covers anyone', { users: ['*'] }, { groups: ['devs'] }, true],
    [
      'users glob covers serviceAccounts',
      { users: ['system:serviceaccount:*'] },
      { serviceAccounts: ['system:serviceaccount:ci:*'] },
      true,
    ],
    ['groups do not cover users', { groups: ['devs'] }, { users: ['alice'] }, false],
    [
      'namespaces never match cluster-wide: not covering a later one without them',
      { namespaces: ['*'] },
      { roles: ['view'] },
      false,
    ],
    [
      'a protected namespace named literally by the later one only',
      { namespaces: ['*'] },
      { namespaces: ['kube-system'] },
      false,
    ],
    [
      'a protected namespace named by both',
      { namespaces: ['kube-system', 'a'] },
      { namespaces: ['kube-system'] },
      true,
    ],
    ['roleKinds subset', { roleKinds: ['ClusterRole', 'Role'] }, { roleKinds: ['Role'] }, true],
    ['roleKinds both cover absent', { roleKinds: ['ClusterRole', 'Role'] }, {}, true],
    ['roleKinds narrower', { roleKinds: ['Role'] }, {}, false],
    ['roles * covers absent', { roles: ['*'] }, {}, true],
    ['a time window on the earlier one', { when: { timezone: 'UTC', hours: '09:00-17:00' } }, {}, false],
    [
      'the same time window',
      { when: { timezone: 'UTC', hours: '09:00-17:00' } },
      { when: { timezone: 'UTC', hours: '09:00-17:00' }, groups: ['x'] },
      true,
    ],
    ['a ticket pattern on the earlier one', { ticket: '^INC-' }, {}, false],
    ['a time window on the later one only', {}, { when: { timezone: 'UTC', days: ['Sat'] } }, true],
    [
      'a cluster selector on the earlier one',
      { clusterSelector: { matchLabels: { env: 'dev' } } },
      { clusters: ['dev'] },
      false,
    ],
    [
      'the same cluster selector',
      { clusterSelector: { matchLabels: { env: 'dev' } } },
      { clusterSelector: { matchLabels: { env: 'dev' } } },
      true,
    ],
    [
      'a namespace selector on the earlier one',
      { namespaceSelector: { matchLabels: { team: 'a' } } },
      { namespaces: ['a'] },
      false,
    ],
    ['profiles on the earlier one, none on the later', { profiles: ['*'] }, {}, false],
    ['profiles covered', { profiles: ['oncall-*'] }, { profiles: ['oncall-payments'] }, true],
    ['clusters covered by *', { clusters: ['*'] }, {}, true],
    ['clusters narrower', { clusters: ['dev'] }, { clusters: ['dev', 'prod'] }, false],
  ])('%s', (_what, earlier, later, expected) => {
    expect(shadows(earlier, later)).toBe(expected);
  });

  it('names the earlier policy that wins, first one only, and not the reverse', () => {
    const set = setOf([
      policy('all-view', { roles: ['view'] }, 'deny'),
      policy('devs-view', { groups: ['devs'], roles: ['view'] }),
      policy('devs-edit', { groups: ['devs'], roles: ['edit'] }),
    ]);
    expect(lintPolicySet(set, 'e.yaml')).toEqual([
      {
        where: 'e.yaml policies[devs-view] (devs-view)',
        message:
          'never matches: e.yaml policies[all-view] (all-view) comes first and matches every request this one would',
      },
    ]);
  });
});

describe('policy lint: profiles', () => {
  const oncall: Profile = {
    name: 'oncall',
    targets: [
      { cluster: 'prod', namespace: 'payments', role: 'edit', roleKind: 'ClusterRole' },
      { cluster: 'prod', namespace: null, role: 'view', roleKind: 'ClusterRole' },
    ],
  };
  const problems = (policies: Policy[], profiles: Profile[] = [oncall]) =>
    profileProblems(setOf(policies, profiles), 'e.yaml').map((w) => `${w.where}: ${w.message}`);

  it('is quiet when one non-deny policy admits every target', () => {
    expect(
      problems([policy('p', { clusters: ['prod'], roles: ['edit', 'view'], profiles: ['on*'] })]),
    ).toEqual([]);
    expect(
      problems([policy('p', { clusterSelector: { matchLabels: { env: 'prod' } } }, 'approval')]),
    ).toEqual([]);
  });

  it('warns when no single policy admits every target, or only a deny policy does', () => {
    const none = /profiles\[0\] \(oncall\): no auto or approval policy admits every one of its targets/;
    // Two policies together would, but one request is one evaluation.
    expect(problems([policy('a', { roles: ['edit'] }), policy('b', { roles: ['view'] })])[0]).toMatch(none);
    expect(problems([policy('deny', {}, 'deny')])[0]).toMatch(none);
    // Namespaces never admit a cluster-wide target.
    expect(problems([policy('ns', { namespaces: ['*'] })])[0]).toMatch(none);
    expect(problems([policy('sel', { clusterSelector: { matchLabels: { env: 'dev' } } })])[0]).toMatch(none);
    expect(problems([policy('kinds', { roleKinds: ['Role'] })])[0]).toMatch(none);
    expect(problems([policy('other-profile', { profiles: ['break-glass'] })])[0]).toMatch(none);
  });

  it('gives a namespaceSelector the benefit of the doubt (labels are unknown offline)', () => {
    const nsOnly: Profile = {
      name: 'ns',
      targets: [{ cluster: 'dev', namespace: 'a', role: 'edit', roleKind: 'ClusterRole' }],
    };
    expect(
      problems([policy('sel', { namespaceSelector: { matchLabels: { team: 'a' } } })], [nsOnly]),
    ).toEqual([]);
  });

  it('needs a protected namespace named literally', () => {
    const ks: Profile = {
      name: 'ks',
      targets: [{ cluster: 'dev', namespace: 'kube-system', role: 'view', roleKind: 'ClusterRole' }],
    };
    expect(problems([policy('glob', { namespaces: ['kube-*'] })], [ks])).toHaveLength(1);
    expect(problems([policy('all', {})], [ks])).toHaveLength(1);
    expect(problems([policy('literal', { namespaces: ['kube-system'] })], [ks])).toEqual([]);
  });

  it('names targets asking for a forbidden role or cluster-admin', () => {
    const bad: Profile = {
      name: 'bad',
      targets: [
        { cluster: 'dev', namespace: null, role: 'cluster-admin', roleKind: 'ClusterRole' },
        { cluster: 'dev', namespace: 'a', role: 'impersonator', roleKind: 'ClusterRole' },
      ],
    };
    expect(problems([policy('all', {})], [bad])).toEqual([
      'e.yaml profiles[0] (bad).targets[0]: never granted: cluster-admin is never granted: the config does not allow it (guardrails.allowClusterAdmin)',
      'e.yaml profiles[0] (bad).targets[1]: never granted: role impersonator is forbidden by guardrails.forbiddenRoles',
    ]);
  });

  it('warns about match.profiles globs naming no profile', () => {
    const set = setOf([policy('p', { profiles: ['oncall', 'break-glass-*'] })], [oncall]);
    expect(lintPolicySet(set, 'e.yaml')).toEqual([
      {
        where: 'e.yaml policies[p] (p) match.profiles',
        message:
          '"break-glass-*" matches no profile: this policy matches no request made with a profile it names that way',
      },
    ]);
  });
});
