import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load-config.js';

const file = '/etc/elevate.yaml';

/** A config with two labelled clusters and whatever policy-language text is appended. */
const config = (extra: string) => `storage: sqlite:./elevate.db
auth:
  tokenFile: ./tokens.csv
clusters:
  - name: dev
    kubeconfig: ./dev.kubeconfig
    labels: { env: dev, elevate.dev/tier: "2" }
  - name: prod
    kubeconfig: ./prod.kubeconfig
${extra}`;

/** One policy with the given extra lines (indented as policy fields). */
const withPolicy = (fields: string, decision = 'auto') =>
  config(`policies:
  - name: p
    decision: ${decision}
${fields
  .split('\n')
  .filter(Boolean)
  .map((l) => `    ${l}`)
  .join('\n')}
`);

const load = (text: string) => parseConfig(text, file);

describe('policy language in the config: accepted', () => {
  it('fills every default, and keeps the first engine fields as they were', () => {
    const c = load(withPolicy('match: { groups: [devs] }'));
    const set = c.policySet;
    expect(set.policies[0]).toEqual({
      name: 'p',
      priority: 0,
      source: `${file} policies[0]`,
      match: { groups: ['devs'] },
      decision: 'auto',
      maxDurationMs: 3_600_000,
      allowEscalatingRoles: [],
    });
    expect(set.guardrails).toEqual({
      allowClusterAdmin: false,
      forbiddenRoles: [],
      protectedNamespaces: ['kube-system', 'kube-public', 'kube-node-lease'],
    });
    expect(set.limits).toEqual({
      minDurationMs: 60_000,
      maxDurationMs: 604_800_000,
      maxScheduleAheadMs: 604_800_000,
    });
    expect(set.clusterLabels).toEqual({ dev: { env: 'dev', 'elevate.dev/tier': '2' }, prod: {} });
    expect(set.profiles).toEqual([]);
    expect(set.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(set.policies[0]).toMatchObject({
      name: 'p',
      match: { groups: ['devs'] },
      decision: 'auto',
      maxDurationMs: 3_600_000,
    });
    expect(c.policyWarnings).toEqual([]);
  });

  it('orders by priority, higher first, then file order', () => {
    const c = load(
      config(`policies:
  - { name: a, decision: auto }
  - { name: b, decision: auto, priority: 5 }
  - { name: c, decision: auto }
  - { name: d, decision: auto, priority: 5 }
  - { name: e, decision: auto, priority: -1 }
`),
    );
    expect(c.policySet.policies.map((p) => [p.name, p.source])).toEqual([
      ['b', `${file} policies[1]`],
      ['d', `${file} policies[3]`],
      ['a', `${file} policies[0]`],
      ['c', `${file} policies[2]`],
      ['e', `${file} policies[4]`],
    ]);
  });

  it('takes every matcher', () => {
    const c = load(
      withPolicy(`match:
  users: [alice]
  groups: [devs]
  serviceAccounts: ["system:serviceaccount:ci:*"]
  clusters: [dev, "prod-*"]
  clusterSelector:
    matchLabels: { env: dev }
    matchExpressions:
      - { key: elevate.dev/tier, operator: In, values: ["1", "2"] }
      - { key: legacy, operator: DoesNotExist }
  namespaces: ["team-*"]
  namespaceSelector:
    matchExpressions: [{ key: team, operator: Exists }]
  roles: [edit]
  roleKinds: [ClusterRole]
  profiles: ["oncall-*"]
  when: { timezone: Europe/Berlin, days: [Mon-Fri, Sun], hours: "22:00-06:00" }
  ticket: "^INC-[0-9]+$"`),
    );
    expect(c.policySet.policies[0]?.match).toEqual({
      users: ['alice'],
      groups: ['devs'],
      serviceAccounts: ['system:serviceaccount:ci:*'],
      clusters: ['dev', 'prod-*'],
      clusterSelector: {
        matchLabels: { env: 'dev' },
        matchExpressions: [
          { key: 'elevate.dev/tier', operator: 'In', values: ['1', '2'] },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      },
      namespaces: ['team-*'],
      namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Exists' }] },
      roles: ['edit'],
      roleKinds: ['ClusterRole'],
      profiles: ['oncall-*'],
      when: { timezone: 'Europe/Berlin', days: ['Mon-Fri', 'Sun'], hours: '22:00-06:00' },
      ticket: '^INC-[0-9]+$',
    });
  });

  it('takes every constraint and the approval settings', () => {
    const p = load(
      withPolicy(
        `approval:
  approvers: { users: [bob], groups: [sre-leads] }
  required: 2
  timeout: 2h
  denyEnds: false
  requireComment: true
maxDuration: 4h
defaultDuration: 30m
requireTicket: { pattern: "^(INC|CHG)-\\\\d+$" }
cooldown: 1h
maxActivePerUser: 1
maxActive: 3
allowEscalatingRoles: [admin]
message: ask the SRE leads`,
        'approval',
      ),
    ).policySet.policies[0];
    expect(p).toMatchObject({
      approval: {
        approvers: { users: ['bob'], groups: ['sre-leads'] },
        required: 2,
        timeoutMs: 7_200_000,
        denyEnds: false,
        requireComment: true,
      },
      maxDurationMs: 14_400_000,
      defaultDurationMs: 1_800_000,
      requireTicket: { pattern: '^(INC|CHG)-\\d+$' },
      cooldownMs: 3_600_000,
      maxActivePerUser: 1,
      maxActive: 3,
      allowEscalatingRoles: ['admin'],
      message: 'ask the SRE leads',
    });
    const defaults = load(
      withPolicy('approval: { approvers: { groups: [x] } }\nrequireTicket: true', 'approval'),
    ).policySet.policies[0];
    expect(defaults?.approval).toEqual({
      approvers: { users: [], groups: ['x'] },
      required: 1,
      timeoutMs: 86_400_000,
      denyEnds: true,
      requireComment: false,
    });
    expect(defaults?.requireTicket).toEqual({ pattern: null });
    expect(load(withPolicy('requireTicket: false')).policySet.policies[0]?.requireTicket).toBeUndefined();
  });

  it('takes profiles, guardrails and limits', () => {
    const c = load(
      config(`profiles:
  - name: payments-oncall
    description: everything payments on-call needs
    targets:
      - { cluster: prod, namespace: payments, role: edit }
      - { cluster: prod, namespace: payments, role: pod-reader, roleKind: Role }
      - { cluster: dev, clusterWide: true, role: view }
guardrails:
  allowClusterAdmin: true
  forbiddenRoles: [system:controller:*]
  protectedNamespaces: [kube-system, vault]
limits:
  minDuration: 5m
  maxDuration: 12h
  maxActivePerUser: 3
  maxActive: 50
  maxScheduleAhead: 48h
`),
    );
    expect(c.policySet.profiles).toEqual([
      {
        name: 'payments-oncall',
        description: 'everything payments on-call needs',
        targets: [
          { cluster: 'prod', namespace: 'payments', role: 'edit', roleKind: 'ClusterRole' },
          { cluster: 'prod', namespace: 'payments', role: 'pod-reader', roleKind: 'Role' },
          { cluster: 'dev', namespace: null, role: 'view', roleKind: 'ClusterRole' },
        ],
      },
    ]);
    expect(c.policySet.guardrails.protectedNamespaces).toEqual(['kube-system', 'vault']);
    expect(c.policySet.limits).toEqual({
      minDurationMs: 300_000,
      maxDurationMs: 43_200_000,
      maxActivePerUser: 3,
      maxActive: 50,
      maxScheduleAheadMs: 172_800_000,
    });
  });

  it('accepts a cluster glob matching no cluster and a defaultDuration above maxDuration, capping it with a warning', () => {
    const c = load(withPolicy('match: { clusters: ["staging-*"] }\nmaxDuration: 1h\ndefaultDuration: 3h'));
    expect(c.policySet.policies[0]?.defaultDurationMs).toBe(3_600_000);
    expect(c.policyWarnings).toEqual([
      {
        where: `${file} policies[0].defaultDuration`,
        message: "3h is above the policy's maxDuration (1h): requests without a duration get 1h",
      },
    ]);
  });

  it('digests what decides: the same set written differently has the same digest, any change a new one', () => {
    const digest = (text: string) => load(text).policySet.digest;
    const a = withPolicy('match: { groups: [devs], roles: [view] }');
    expect(digest(a)).toBe(
      digest(
        a.replace(
          'match: { groups: [devs], roles: [view] }',
          'match:\n      roles: [view]\n      groups: [devs]',
        ),
      ),
    );
    expect(parseConfig(a, '/elsewhere/other.yaml').policySet.digest).toBe(digest(a));
    expect(digest(a)).toBe(digest(`${a}# a comment\n`));
    expect(digest(a)).not.toBe(digest(a.replace('[view]', '[edit]')));
    expect(digest(a)).not.toBe(digest(a.replace('name: p', 'name: q')));
    expect(digest(a)).not.toBe(digest(a.replace('env: dev,', 'env: development,')));
    expect(digest(a)).not.toBe(digest(`${a}guardrails: { protectedNamespaces: [] }\n`));
  });
});

describe('policy language in the config: refused, naming the file, the path and the field', () => {
  it.each([
    [
      'a cluster label key',
      config('').replace('env: dev,', '"-bad": dev,'),
      /clusters\[0\]\.labels\.-bad: label key "-bad"/,
    ],
    [
      'a cluster label value',
      config('').replace('env: dev,', 'env: "not ok",'),
      /clusters\[0\]\.labels\.env: label value "not ok"/,
    ],
    ['a non-integer priority', withPolicy('priority: 1.5'), /policies\[0\]\.priority: /],
    [
      'an unknown matcher',
      withPolicy('match: { colour: [blue] }'),
      /policies\[0\]\.match: Unrecognized key: "colour"/,
    ],
    [
      'an unknown literal cluster',
      withPolicy('match: { clusters: [dev, staging] }'),
      /policies\[0\]\.match\.clusters: unknown cluster staging/,
    ],
    [
      'In without values',
      withPolicy('match: { clusterSelector: { matchExpressions: [{ key: env, operator: In }] } }'),
      /policies\[0\]\.match\.clusterSelector\.matchExpressions\[0\]\.values: In needs at least one value/,
    ],
    [
      'NotIn with empty values',
      withPolicy(
        'match: { namespaceSelector: { matchExpressions: [{ key: env, operator: NotIn, values: [] }] } }',
      ),
      /policies\[0\]\.match\.namespaceSelector\.matchExpressions\[0\]\.values: NotIn needs at least one value/,
    ],
    [
      'Exists with values',
      withPolicy(
        'match: { namespaceSelector: { matchExpressions: [{ key: env, operator: Exists, values: [x] }] } }',
      ),
      /policies\[0\]\.match\.namespaceSelector\.matchExpressions\[0\]\.values: Exists takes no values/,
    ],
    [
      'DoesNotExist with values',
      withPolicy(
        'match: { namespaceSelector: { matchExpressions: [{ key: env, operator: DoesNotExist, values: [x] }] } }',
      ),
      /matchExpressions\[0\]\.values: DoesNotExist takes no values/,
    ],
    [
      'an unknown operator',
      withPolicy(
        'match: { namespaceSelector: { matchExpressions: [{ key: env, operator: Equals, values: [x] }] } }',
      ),
      /matchExpressions\[0\]\.operator: /,
    ],
    [
      'a bad selector key',
      withPolicy('match: { namespaceSelector: { matchExpressions: [{ key: "a b", operator: Exists }] } }'),
      /matchExpressions\[0\]\.key: label key "a b"/,
    ],
    [
      'a bad matchLabels value',
      withPolicy('match: { clusterSelector: { matchLabels: { env: "x y" } } }'),
      /policies\[0\]\.match\.clusterSelector\.matchLabels\.env: label value "x y"/,
    ],
    [
      'when without a timezone',
      withPolicy('match: { when: { days: [Mon] } }'),
      /policies\[0\]\.match\.when\.timezone: required when `when` is given/,
    ],
    [
      'an unknown time zone',
      withPolicy('match: { when: { timezone: Mars/Olympus } }'),
      /policies\[0\]\.match\.when: unknown time zone "Mars\/Olympus"/,
    ],
    [
      'a bad day',
      withPolicy('match: { when: { timezone: UTC, days: [Monday] } }'),
      /policies\[0\]\.match\.when: day "Monday"/,
    ],
    [
      'bad hours',
      withPolicy('match: { when: { timezone: UTC, hours: "9-17" } }'),
      /policies\[0\]\.match\.when: hours "9-17"/,
    ],
    [
      'a ticket regex that does not compile',
      withPolicy('match: { ticket: "INC-[" }'),
      /policies\[0\]\.match\.ticket: not a valid regular expression/,
    ],
    [
      'a requireTicket pattern that does not compile',
      withPolicy('requireTicket: { pattern: "(" }'),
      /policies\[0\]\.requireTicket\.pattern: not a valid regular expression/,
    ],
    ['a requireTicket string', withPolicy('requireTicket: "INC-.*"'), /policies\[0\]\.requireTicket: /],
    [
      'a bad defaultDuration',
      withPolicy('defaultDuration: soon'),
      /policies\[0\]\.defaultDuration: "soon" is not a duration/,
    ],
    [
      'a defaultDuration below limits.minDuration',
      withPolicy('defaultDuration: 30s'),
      /policies\[0\]\.defaultDuration: is below limits\.minDuration \(1m\)/,
    ],
    ['a bad cooldown', withPolicy('cooldown: 0s'), /policies\[0\]\.cooldown: duration must be positive/],
    ['a zero maxActivePerUser', withPolicy('maxActivePerUser: 0'), /policies\[0\]\.maxActivePerUser: /],
    ['a fractional maxActive', withPolicy('maxActive: 2.5'), /policies\[0\]\.maxActive: /],
    [
      'an approval denyEnds that is not a boolean',
      withPolicy('approval: { approvers: { groups: [x] }, denyEnds: maybe }', 'approval'),
      /policies\[0\]\.approval\.denyEnds: /,
    ],
    [
      'a non-list allowEscalatingRoles',
      withPolicy('allowEscalatingRoles: admin'),
      /policies\[0\]\.allowEscalatingRoles: /,
    ],
    [
      'duplicate policy names',
      config('policies:\n  - { name: a, decision: auto }\n  - { name: a, decision: auto }\n'),
      /policies\[1\]\.name: duplicate policy a \(also policies\[0\]\)/,
    ],
    [
      'a profile name that is not a DNS label',
      config('profiles:\n  - { name: On_Call, targets: [{ cluster: dev, namespace: a, role: view }] }\n'),
      /profiles\[0\]\.name: profile names are DNS labels/,
    ],
    [
      'duplicate profile names',
      config(
        'profiles:\n  - { name: a, targets: [{ cluster: dev, namespace: a, role: view }] }\n  - { name: a, targets: [{ cluster: dev, namespace: b, role: view }] }\n',
      ),
      /profiles\[1\]\.name: duplicate profile a \(also profiles\[0\]\)/,
    ],
    [
      'a profile without targets',
      config('profiles:\n  - { name: a, targets: [] }\n'),
      /profiles\[0\]\.targets: /,
    ],
    [
      'a profile target on an unknown cluster',
      config('profiles:\n  - { name: a, targets: [{ cluster: staging, namespace: a, role: view }] }\n'),
      /profiles\[0\]\.targets\[0\]\.cluster: unknown cluster staging/,
    ],
    [
      'a profile target with neither namespace nor clusterWide',
      config('profiles:\n  - { name: a, targets: [{ cluster: dev, role: view }] }\n'),
      /profiles\[0\]\.targets\[0\]\.namespace: give a namespace, or clusterWide: true/,
    ],
    [
      'a profile target with both namespace and clusterWide',
      config(
        'profiles:\n  - { name: a, targets: [{ cluster: dev, namespace: a, clusterWide: true, role: view }] }\n',
      ),
      /profiles\[0\]\.targets\[0\]\.clusterWide: give either namespace or clusterWide: true, not both/,
    ],
    [
      'a cluster-wide Role',
      config(
        'profiles:\n  - { name: a, targets: [{ cluster: dev, clusterWide: true, role: view, roleKind: Role }] }\n',
      ),
      /profiles\[0\]\.targets\[0\]\.roleKind: a Role lives in a namespace/,
    ],
    [
      'a bad namespace in a profile',
      config('profiles:\n  - { name: a, targets: [{ cluster: dev, namespace: Payments, role: view }] }\n'),
      /profiles\[0\]\.targets\[0\]\.namespace: namespace names are DNS labels/,
    ],
    [
      'an unknown guardrail',
      config('guardrails: { protectedNamespace: [x] }\n'),
      /guardrails: Unrecognized key: "protectedNamespace"/,
    ],
    [
      'a non-list protectedNamespaces',
      config('guardrails: { protectedNamespaces: kube-system }\n'),
      /guardrails\.protectedNamespaces: /,
    ],
    ['a zero limits.maxActive', config('limits: { maxActive: 0 }\n'), /limits\.maxActive: /],
    [
      'a fractional limits.maxActivePerUser',
      config('limits: { maxActivePerUser: 1.5 }\n'),
      /limits\.maxActivePerUser: /,
    ],
    [
      'a bad limits.maxScheduleAhead',
      config('limits: { maxScheduleAhead: 7d }\n'),
      /limits\.maxScheduleAhead: "7d" is not a duration/,
    ],
  ])('%s', (_what, text, message) => {
    expect(() => load(text)).toThrow(ConfigError);
    expect(() => load(text)).toThrow(message);
    expect(() => load(text)).toThrow(/^\/etc\/elevate\.yaml: /);
  });
});
