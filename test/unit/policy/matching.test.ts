import { describe, expect, it } from 'vitest';
import { matchPolicy } from '../../../src/domain/policy/matching.js';
import type { DecisionFacts, DecisionInput, PolicyMatch } from '../../../src/domain/policy/types.js';
import type { Target } from '../../../src/domain/target.js';
import { facts, input, policy, policySet, target } from './fixtures.js';

type Case = [
  name: string,
  match: PolicyMatch,
  request: Partial<DecisionInput>,
  world: Partial<DecisionFacts>,
  expected: { matcher: string; reason: string; target?: Target } | null,
];

const payments = target();
const kubeSystem = target({ namespace: 'kube-system' });
const wide = target({ namespace: null });
const labels = (entries: [string, Record<string, string> | null][]) => ({
  namespaceLabels: new Map(entries),
});
const paymentsLabels = labels([['dev/payments', { team: 'payments' }]]);

const cases: Case[] = [
  // who
  ['no who matcher: anyone', {}, {}, {}, null],
  ['users literal', { users: ['alice'] }, {}, {}, null],
  ['users glob', { users: ['al*'] }, {}, {}, null],
  [
    'users miss',
    { users: ['bob'] },
    {},
    {},
    { matcher: 'users', reason: 'the requester is not one of [bob]' },
  ],
  ['groups hit', { groups: ['sre', 'devs'] }, {}, {}, null],
  [
    'groups miss',
    { groups: ['sre'] },
    {},
    {},
    { matcher: 'groups', reason: 'the requester is in none of [sre]' },
  ],
  ['groups glob', { groups: ['dev*'] }, {}, {}, null],
  ['users or groups: groups suffice', { users: ['bob'], groups: ['devs'] }, {}, {}, null],
  ['users or groups: users suffice', { users: ['alice'], groups: ['sre'] }, {}, {}, null],
  [
    'users and groups both miss',
    { users: ['bob'], groups: ['sre'] },
    {},
    {},
    {
      matcher: 'users/groups',
      reason: 'the requester is not one of [bob] (users) and is in none of [sre] (groups)',
    },
  ],
  [
    'serviceAccounts hit',
    { serviceAccounts: ['system:serviceaccount:ci:*'] },
    { requester: 'system:serviceaccount:ci:deployer', groups: [] },
    {},
    null,
  ],
  [
    'serviceAccounts miss',
    { serviceAccounts: ['system:serviceaccount:ci:*'] },
    {},
    {},
    {
      matcher: 'serviceAccounts',
      reason: 'the requester is not one of the service accounts [system:serviceaccount:ci:*]',
    },
  ],
  // profiles
  ['profiles hit', { profiles: ['db-*'] }, { profile: 'db-oncall' }, {}, null],
  [
    'profiles miss',
    { profiles: ['db-*'] },
    { profile: 'web' },
    {},
    { matcher: 'profiles', reason: 'profile web is not one of [db-*]' },
  ],
  [
    'profiles need a profile',
    { profiles: ['db-*'] },
    {},
    {},
    { matcher: 'profiles', reason: 'the request names no profile; the policy needs one of [db-*]' },
  ],
  // when (facts.now is Wed 2026-05-06 10:00 UTC = 12:00 in Berlin)
  [
    'when inside',
    { when: { timezone: 'Europe/Berlin', days: ['Mon-Fri'], hours: '09:00-18:00' } },
    {},
    {},
    null,
  ],
  [
    'when outside',
    { when: { timezone: 'Europe/Berlin', days: ['Sat-Sun'] } },
    {},
    {},
    { matcher: 'when', reason: 'Wed 12:00 in Europe/Berlin is outside Sat-Sun' },
  ],
  [
    'when outside the hours',
    { when: { timezone: 'America/New_York', hours: '09:00-17:00' } },
    {},
    {},
    { matcher: 'when', reason: 'Wed 06:00 in America/New_York is outside 09:00-17:00' },
  ],
  // ticket
  ['ticket hit', { ticket: '^INC-\\d+$' }, { ticket: 'INC-42' }, {}, null],
  ['ticket unanchored', { ticket: 'INC' }, { ticket: 'see INC-42' }, {}, null],
  [
    'ticket miss',
    { ticket: '^INC-\\d+$' },
    { ticket: 'CHG-1' },
    {},
    { matcher: 'ticket', reason: 'ticket CHG-1 does not match /^INC-\\d+$/' },
  ],
  [
    'ticket missing',
    { ticket: '^INC-\\d+$' },
    {},
    {},
    { matcher: 'ticket', reason: 'no ticket given; the policy needs one matching /^INC-\\d+$/' },
  ],
  // clusters, clusterSelector (clusterLabels: dev {env: dev}, prod {env: prod, region: eu})
  ['clusters hit', { clusters: ['dev', 'prod'] }, {}, {}, null],
  [
    'clusters miss',
    { clusters: ['prod-*'] },
    {},
    {},
    { matcher: 'clusters', reason: 'cluster dev is not one of [prod-*]', target: payments },
  ],
  ['clusterSelector hit', { clusterSelector: { matchLabels: { env: 'dev' } } }, {}, {}, null],
  [
    'clusterSelector miss',
    { clusterSelector: { matchLabels: { env: 'prod' } } },
    {},
    {},
    { matcher: 'clusterSelector', reason: "cluster dev's labels do not satisfy env=prod", target: payments },
  ],
  [
    'clusterSelector on a cluster without labels',
    { clusterSelector: { matchExpressions: [{ key: 'env', operator: 'Exists' }] } },
    { targets: [target({ cluster: 'lab' })] },
    {},
    {
      matcher: 'clusterSelector',
      reason: "cluster lab's labels do not satisfy env",
      target: target({ cluster: 'lab' }),
    },
  ],
  // namespaces
  ['namespaces glob', { namespaces: ['pay*'] }, {}, {}, null],
  [
    'namespaces miss',
    { namespaces: ['orders'] },
    {},
    {},
    { matcher: 'namespaces', reason: 'namespace payments is not one of [orders]', target: payments },
  ],
  [
    'namespaces never match cluster-wide',
    { namespaces: ['*'] },
    { targets: [wide] },
    {},
    {
      matcher: 'namespaces',
      reason: 'a cluster-wide target never matches a policy that lists namespaces',
      target: wide,
    },
  ],
  ['no namespace matcher allows cluster-wide', {}, { targets: [wide] }, {}, null],
  // protected namespaces
  ['protected: named literally', { namespaces: ['kube-system'] }, { targets: [kubeSystem] }, {}, null],
  [
    'protected: a glob is not enough',
    { namespaces: ['kube-*'] },
    { targets: [kubeSystem] },
    {},
    {
      matcher: 'namespaces',
      reason: 'namespace kube-system is protected: only a policy naming it literally matches',
      target: kubeSystem,
    },
  ],
  [
    'protected: * is not enough',
    { namespaces: ['*'] },
    { targets: [kubeSystem] },
    {},
    {
      matcher: 'namespaces',
      reason: 'namespace kube-system is protected: only a policy naming it literally matches',
      target: kubeSystem,
    },
  ],
  [
    'protected: no namespace matcher is not enough',
    {},
    { targets: [kubeSystem] },
    {},
    {
      matcher: 'namespaces',
      reason: 'namespace kube-system is protected: only a policy naming it literally matches',
      target: kubeSystem,
    },
  ],
  [
    'protected: a selector is not enough',
    { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } },
    { targets: [kubeSystem] },
    labels([['dev/kube-system', { 'kubernetes.io/metadata.name': 'kube-system' }]]),
    {
      matcher: 'namespaces',
      reason: 'namespace kube-system is protected: only a policy naming it literally matches',
      target: kubeSystem,
    },
  ],
  [
    'protected: literal name plus selector, selector must still hold',
    { namespaces: ['kube-system'], namespaceSelector: { matchLabels: { tier: 'ops' } } },
    { targets: [kubeSystem] },
    labels([['dev/kube-system', {}]]),
    {
      matcher: 'namespaceSelector',
      reason: "namespace kube-system's labels do not satisfy tier=ops",
      target: kubeSystem,
    },
  ],
  // namespaceSelector
  [
    'namespaceSelector hit',
    { namespaceSelector: { matchLabels: { team: 'payments' } } },
    {},
    paymentsLabels,
    null,
  ],
  [
    'namespaceSelector miss',
    { namespaceSelector: { matchLabels: { team: 'orders' } } },
    {},
    paymentsLabels,
    {
      matcher: 'namespaceSelector',
      reason: "namespace payments's labels do not satisfy team=orders",
      target: payments,
    },
  ],
  [
    'namespaceSelector with labels unknown (offline)',
    { namespaceSelector: { matchLabels: { team: 'payments' } } },
    {},
    {},
    {
      matcher: 'namespaceSelector',
      reason: 'labels of namespace payments on cluster dev unknown (offline)',
      target: payments,
    },
  ],
  [
    'namespaceSelector on a namespace that does not exist',
    { namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] } },
    {},
    labels([['dev/payments', null]]),
    {
      matcher: 'namespaceSelector',
      reason: 'namespace payments does not exist on cluster dev',
      target: payments,
    },
  ],
  [
    'namespaceSelector never matches cluster-wide',
    { namespaceSelector: {} },
    { targets: [wide] },
    {},
    {
      matcher: 'namespaceSelector',
      reason: 'a cluster-wide target never matches a namespaceSelector',
      target: wide,
    },
  ],
  // roles, roleKinds
  ['roles hit', { roles: ['view', 'edit'] }, {}, {}, null],
  [
    'roles miss',
    { roles: ['view'] },
    {},
    {},
    { matcher: 'roles', reason: 'role edit is not one of [view]', target: payments },
  ],
  ['roleKinds hit', { roleKinds: ['ClusterRole'] }, {}, {}, null],
  [
    'roleKinds miss',
    { roleKinds: ['Role'] },
    {},
    {},
    { matcher: 'roleKinds', reason: 'role kind ClusterRole is not one of [Role]', target: payments },
  ],
  // order: the first failing matcher is reported
  [
    'who before everything',
    { groups: ['sre'], ticket: 'x', clusters: ['prod'] },
    {},
    {},
    { matcher: 'groups', reason: 'the requester is in none of [sre]' },
  ],
  [
    'ticket before clusters',
    { ticket: 'x', clusters: ['prod'] },
    {},
    {},
    { matcher: 'ticket', reason: 'no ticket given; the policy needs one matching /x/' },
  ],
  [
    'clusters before namespaces',
    { clusters: ['prod'], namespaces: ['orders'] },
    {},
    {},
    { matcher: 'clusters', reason: 'cluster dev is not one of [prod]', target: payments },
  ],
  [
    'namespaces before roles',
    { namespaces: ['orders'], roles: ['view'] },
    {},
    {},
    { matcher: 'namespaces', reason: 'namespace payments is not one of [orders]', target: payments },
  ],
  // several targets: every one must match; the first failing target is named
  [
    'every target must match',
    { namespaces: ['payments'] },
    { targets: [payments, target({ namespace: 'orders' })] },
    {},
    {
      matcher: 'namespaces',
      reason: 'namespace orders is not one of [payments]',
      target: target({ namespace: 'orders' }),
    },
  ],
  [
    'all targets match',
    { namespaces: ['payments', 'orders'] },
    { targets: [payments, target({ namespace: 'orders' })] },
    {},
    null,
  ],
];

describe('matchPolicy', () => {
  it.each(cases)('%s', (_name, match, request, world, expected) => {
    const p = policy('p', { match });
    const { entry } = matchPolicy(policySet([p]), p, input(request), facts(world));
    if (expected === null) {
      expect(entry).toEqual({ policy: 'p', source: 'elevate.yaml policies[p]', result: 'matched' });
    } else {
      expect(entry).toEqual({
        policy: 'p',
        source: 'elevate.yaml policies[p]',
        result: 'skipped',
        ...expected,
      });
    }
  });

  it('notes labels it could not know, once per namespace', () => {
    const p = policy('p', { match: { namespaceSelector: { matchLabels: { team: 'payments' } } } });
    const { notes } = matchPolicy(policySet([p]), p, input(), facts());
    expect(notes).toEqual(['labels of namespace payments on cluster dev unknown (offline)']);
    const known = matchPolicy(policySet([p]), p, input(), facts(paymentsLabels));
    expect(known.notes).toEqual([]);
  });

  it('uses the set’s own protected namespaces', () => {
    const p = policy('p', { match: { namespaces: ['kube-*'] } });
    const set = policySet([p], {
      guardrails: { allowClusterAdmin: false, forbiddenRoles: [], protectedNamespaces: [] },
    });
    expect(matchPolicy(set, p, input({ targets: [kubeSystem] }), facts()).entry.result).toBe('matched');
  });
});
