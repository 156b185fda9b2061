import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { elevateBin, repo, run } from '../support/cli.js';

/**
 * `elevate policy check|explain`, the built CLI over config files in a temp dir. Offline: the kubeconfigs,
 * token file and database the configs name do not exist, and no server runs.
 */
let dir: string;

function configFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const head = `storage: sqlite:./missing/elevate.db
auth:
  tokenFile: ./missing/tokens.csv
clusters:
  - name: dev
    kubeconfig: ./missing/dev.kubeconfig
    labels: { env: dev }
  - name: prod
    kubeconfig: ./missing/prod.kubeconfig
    labels: { env: prod }
`;

const good = `${head}profiles:
  - name: payments-oncall
    targets:
      - { cluster: prod, namespace: payments, role: edit }
      - { cluster: prod, clusterWide: true, role: view }
policies:
  - name: no-secrets-admin
    priority: 100
    match: { roles: [secrets-admin] }
    decision: deny
    message: nobody gets secrets-admin; ask security
  - name: oncall
    priority: 10
    match:
      groups: [oncall]
      profiles: [payments-oncall]
      when: { timezone: Europe/Berlin, days: [Mon-Fri], hours: "09:00-18:00" }
    decision: approval
    approval: { approvers: { groups: [sre-leads] }, required: 2 }
    maxDuration: 4h
    defaultDuration: 1h
  - name: dev-edit
    match: { groups: [devs], clusterSelector: { matchLabels: { env: dev } }, roles: [edit] }
    decision: auto
    maxDuration: 2h
`;

const elevate = (...args: string[]) => run(elevateBin, args);

beforeAll(() => {
  expect(existsSync(join(repo, 'dist/cli/main.js')), 'run `make build` first').toBe(true);
  dir = mkdtempSync(join(tmpdir(), 'elevate-policy-cli-'));
});

describe('elevate policy check', () => {
  it('passes a valid config whose kubeconfigs do not exist, printing a summary and exit 0', async () => {
    const file = configFile('good.yaml', good);
    const r = await elevate('policy', 'check', '--config', file);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^ok: ${file}: 3 policies, 1 profile, 0 warnings; digest [0-9a-f]{64}\\n$`),
    );
  });

  it('prints every error with the file, path and field, and exits 1', async () => {
    const file = configFile(
      'bad.yaml',
      good
        .replace('hours: "09:00-18:00"', 'hours: "9 to 5"')
        .replace(
          '{ cluster: prod, clusterWide: true, role: view }',
          '{ cluster: staging, clusterWide: true, role: view }',
        )
        .replace('approvers: { groups: [sre-leads] }', 'approvers: { groups: [sre-leads] }, quorum: 2'),
    );
    const r = await elevate('policy', 'check', '--config', file);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContain(
      `error: ${file}: policies[1].match.when: hours "9 to 5" must be "HH:MM-HH:MM" in 24-hour time, e.g. "09:00-18:00"`,
    );
    expect(lines).toContain(`error: ${file}: policies[1].approval: Unrecognized key: "quorum"`);
    expect(lines).toContain(
      `error: ${file}: profiles[0].targets[1].cluster: unknown cluster staging (not in clusters)`,
    );
    expect(lines.at(-1)).toBe('3 errors: the config is not valid');
  });

  it('warns (exit 0) about a shadowed policy, a profile nothing allows, a capped defaultDuration and a profile glob naming nothing', async () => {
    const file = configFile(
      'warn.yaml',
      good.replace(
        'profiles:\n',
        'profiles:\n  - name: prod-admin\n    targets: [{ cluster: prod, namespace: payments, role: admin, roleKind: Role }]\n',
      ) +
        `  - name: dev-edit-payments
    match: { groups: [devs], clusterSelector: { matchLabels: { env: dev } }, namespaces: [payments], roles: [edit] }
    decision: auto
  - name: short-default
    match: { groups: [ops], profiles: ["ops-*"] }
    decision: auto
    maxDuration: 30m
    defaultDuration: 2h
`,
    );
    const r = await elevate('policy', 'check', '--config', file);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([
      `warning: ${file} policies[4].defaultDuration: 2h is above the policy's maxDuration (30m): requests without a duration get 30m`,
      `warning: ${file} policies[3] (dev-edit-payments): never matches: ${file} policies[2] (dev-edit) comes first and matches every request this one would`,
      `warning: ${file} profiles[0] (prod-admin): no auto or approval policy admits every one of its targets (judging clusters, clusterSelector, namespaces, roles, roleKinds and profiles): requests for it will be refused`,
      `warning: ${file} policies[4] (short-default) match.profiles: "ops-*" matches no profile: this policy matches no request made with a profile it names that way`,
      expect.stringMatching(new RegExp(`^ok: ${file}: 5 policies, 2 profiles, 4 warnings; digest `)),
    ]);
  });

  it('names an unreadable file', async () => {
    const r = await elevate('policy', 'check', '--config', join(dir, 'nope.yaml'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: ${join(dir, 'nope.yaml')}: cannot read config`);
  });
});

describe('elevate policy explain', () => {
  let file: string;
  beforeAll(() => {
    file = configFile('explain.yaml', good);
  });
  const explain = (...args: string[]) => elevate('policy', 'explain', '--config', file, ...args);
  // Tuesday 2026-03-03: 10:00 in Berlin (UTC+1) is inside Mon-Fri 09:00-18:00, 19:30 is not.
  const inside = '2026-03-03T10:00:00+01:00';
  const outside = '2026-03-03T19:30:00+01:00';

  it('auto: the matching policy, the trace of those before it, and what it could not judge offline', async () => {
    const r = await explain(
      '--user',
      'alice',
      '--groups',
      'devs',
      '--cluster',
      'dev',
      '--role',
      'edit',
      '--namespace',
      'payments',
      '--duration',
      '30m',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('request by alice (groups devs)');
    expect(r.stdout).toContain('  ClusterRole edit in namespace payments on cluster dev\n');
    expect(r.stdout).toContain(
      `allowed by policy dev-edit (${file} policies[2]) for 30m, no approval needed`,
    );
    expect(r.stdout).toContain(`  ✗ policy no-secrets-admin (${file} policies[0]): roles`);
    expect(r.stdout).toContain(`  ✗ policy oncall (${file} policies[1]): groups`);
    expect(r.stdout).toContain(`  ✓ policy dev-edit (${file} policies[2]): matched`);
    expect(r.stdout).toContain('note: ');
  });

  it('approval for a profile inside the when window, no match outside it', async () => {
    const ok = await explain(
      '--user',
      'alice',
      '--groups',
      'oncall',
      '--profile',
      'payments-oncall',
      '--at',
      inside,
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(
      'request by alice (groups oncall) at 2026-03-03T09:00:00.000Z, profile payments-oncall:',
    );
    expect(ok.stdout).toContain('  ClusterRole view cluster-wide on cluster prod\n');
    expect(ok.stdout).toContain(
      `needs approval by policy oncall (${file} policies[1]) for 1h: 2 approvals from groups [sre-leads] within 24h`,
    );
    expect(ok.stdout).toContain(`  ✓ policy oncall (${file} policies[1]): matched`);

    const late = await explain(
      '--user',
      'alice',
      '--groups',
      'oncall',
      '--profile',
      'payments-oncall',
      '--at',
      outside,
    );
    expect(late.code).toBe(0);
    expect(late.stdout).toMatch(/^refused/m);
    expect(late.stdout).toContain(`  ✗ policy oncall (${file} policies[1]): when`);
    expect(late.stdout).toMatch(/refusal \[no-match\]/);
  });

  it('deny: the deny policy and its message', async () => {
    const r = await explain(
      '--user',
      'alice',
      '--groups',
      'devs',
      '--cluster',
      'dev',
      '--role',
      'secrets-admin',
      '--namespace',
      'payments',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`refused by policy no-secrets-admin (${file} policies[0])`);
    expect(r.stdout).toContain(`  ✓ policy no-secrets-admin (${file} policies[0]): matched`);
    expect(r.stdout).toMatch(/refusal \[policy\].*nobody gets secrets-admin; ask security/);
  });

  it('no match: every policy with the matcher that failed, across a cartesian product of targets', async () => {
    const r = await explain(
      '--user',
      'bob',
      '--groups',
      'devs',
      '--cluster',
      'dev,prod',
      '--role',
      'edit',
      '--namespace',
      'a,b',
    );
    expect(r.code).toBe(0);
    for (const t of [
      'namespace a on cluster dev',
      'namespace b on cluster dev',
      'namespace a on cluster prod',
      'namespace b on cluster prod',
    ])
      expect(r.stdout).toContain(`ClusterRole edit in ${t}\n`);
    expect(r.stdout).toMatch(/^refused$/m);
    expect(r.stdout).toContain(`  ✗ policy dev-edit (${file} policies[2]): clusterSelector`);
    expect(r.stdout).toMatch(/refusal \[no-match\]/);
  });

  it('-o json prints {decision}', async () => {
    const r = await explain(
      '--user',
      'alice',
      '--groups',
      'oncall',
      '--profile',
      'payments-oncall',
      '--at',
      inside,
      '-o',
      'json',
    );
    expect(r.code).toBe(0);
    const { decision } = JSON.parse(r.stdout);
    expect(decision).toMatchObject({
      outcome: 'approval',
      policy: { name: 'oncall', source: `${file} policies[1]` },
      refusal: null,
      durationMs: 3_600_000,
      approval: { required: 2, denyEnds: true, requireComment: false },
    });
    expect(decision.trace.map((e: { policy: string; result: string }) => [e.policy, e.result])).toEqual([
      ['no-secrets-admin', 'skipped'],
      ['oncall', 'matched'],
    ]);
  });

  it.each([
    [
      ['--user', 'a', '--cluster', 'dev', '--role', 'edit'],
      /error: give exactly one of --namespace NS or --cluster-wide/,
    ],
    [
      ['--user', 'a', '--cluster', 'nowhere', '--role', 'edit', '--cluster-wide'],
      /error: unknown cluster nowhere \(the config has dev, prod\)/,
    ],
    [['--user', 'a', '--profile', 'nope'], /error: unknown profile nope \(the config has payments-oncall\)/],
    [['--user', 'a', '--profile', 'payments-oncall', '--role', 'edit'], /error: give either --profile, or/],
    [
      ['--user', 'a', '--cluster', 'dev', '--role', 'x', '--cluster-wide', '--role-kind', 'Role'],
      /error: a Role lives in a namespace/,
    ],
    [
      ['--user', 'a', '--profile', 'payments-oncall', '--at', 'tomorrow'],
      /"tomorrow" is not an RFC 3339 time/,
    ],
    [['--user', 'a', '--profile', 'payments-oncall', '--duration', 'long'], /"long" is not a duration/],
    [['--profile', 'payments-oncall'], /required option '--user <name>'/],
  ])('bad input %j exits 1', async (args, message) => {
    const r = await explain(...args);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });
});
