import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveKubeBinaries } from '../../src/testenv/kube-binaries.js';
import { elevateBin, repo, run } from '../support/cli.js';
import { type RunningElevate, requestBody, startElevate } from '../support/elevate.js';
import { createNamespace, elevateKubeconfig, testKubeconfig, uniqueName } from '../support/kube.js';

let server: RunningElevate;
let kubeconfig: string;
let kubectl: string;
let ns: string;

const as = (person: string) => ({ ELEVATE_SERVER: server.url, ELEVATE_TOKEN: `token-${person}` });
const elevate = (person: string | null, ...args: string[]) =>
  run(elevateBin, args, person ? as(person) : { ELEVATE_SERVER: server.url });

beforeAll(async () => {
  expect(existsSync(join(repo, 'dist/cli/main.js')), 'run `make build` first').toBe(true);
  kubeconfig = testKubeconfig('dev');
  kubectl = (await resolveKubeBinaries(undefined, () => {})).kubectl;
  server = await startElevate({ clusters: { dev: elevateKubeconfig('dev') } });
  ns = uniqueName('cli');
  await createNamespace(kubeconfig, ns);
});

afterAll(async () => {
  await server?.stop();
});

const canI = async (...args: string[]) =>
  (
    await run(kubectl, ['auth', 'can-i', ...args, '--as', 'alice', '--as-group', 'devs'], {
      KUBECONFIG: kubeconfig,
    })
  ).stdout.trim();

describe('elevate CLI', () => {
  it('request, approve, get, list, revoke — with kubectl auth can-i before and after', async () => {
    expect(await canI('create', 'deployments', '-n', ns)).toBe('no');
    const requested = await elevate(
      'alice',
      'request',
      '--cluster',
      'dev',
      '--role',
      'edit',
      '--namespace',
      ns,
      '--duration',
      '30m',
      '--reason',
      'INC-9 payments down',
      '--ticket',
      'INC-9',
      '-o',
      'json',
    );
    expect(requested.code, requested.stderr).toBe(0);
    const created = JSON.parse(requested.stdout);
    expect(created).toMatchObject({
      apiVersion: 'elevate.dev/v1',
      kind: 'AccessRequest',
      spec: { requester: 'alice', role: 'edit', namespace: ns, duration: '30m', ticket: 'INC-9' },
      status: { phase: 'Pending' },
    });
    const id = created.metadata.name;

    const own = await elevate('alice', 'approve', id);
    expect(own.code).not.toBe(0);
    expect(own.stderr).toMatch(/cannot approve or deny their own request \(HTTP 403\)/);

    expect((await elevate('bob', 'approve', id, '--comment', 'ok')).stdout).toMatch(
      /Pending: 1 of 2 approvals/,
    );
    const approved = await elevate('carol', 'approve', id);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain(`accessrequest/${id} Active`);
    expect(await canI('create', 'deployments', '-n', ns)).toBe('yes');

    const got = JSON.parse((await elevate('alice', 'get', id, '-o', 'json')).stdout);
    expect(got.status.phase).toBe('Active');
    expect(got.status.grant.bindings[0]).toEqual({
      cluster: 'dev',
      kind: 'RoleBinding',
      name: `elevate-${id}`,
      namespace: ns,
    });
    const described = (await elevate('alice', 'get', id)).stdout;
    expect(described).toMatch(/Phase:\s+Active/);
    expect(described).toMatch(/Approved:\s+bob at .* — ok/);

    const list = JSON.parse((await elevate('bob', 'list', '--phase', 'Active', '-o', 'json')).stdout);
    expect(Object.keys(list)).toEqual(['items']);
    expect(list.items.map((r: { metadata: { name: string } }) => r.metadata.name)).toContain(id);
    const table = (await elevate('alice', 'list')).stdout.split('\n');
    expect(table[0]).toMatch(/^NAME\s+REQUESTER\s+CLUSTER\s+ROLE\s+NAMESPACE\s+DURATION\s+PHASE/);
    expect(table.some((l) => l.startsWith(id) && l.includes('Active'))).toBe(true);

    const revoked = await elevate('alice', 'revoke', id, '--reason', 'fixed');
    expect(revoked.stdout).toContain('Revoked');
    expect(await canI('create', 'deployments', '-n', ns)).toBe('no');
  });

  it('cancel and deny', async () => {
    const ask = async () =>
      JSON.parse(
        (
          await elevate(
            'alice',
            'request',
            '--cluster',
            'dev',
            '--role',
            'edit',
            '--namespace',
            ns,
            '--duration',
            '5m',
            '--reason',
            'r',
            '-o',
            'json',
          )
        ).stdout,
      ).metadata.name;
    const a = await ask();
    expect((await elevate('alice', 'cancel', a)).stdout).toContain('Canceled');
    const b = await ask();
    expect((await elevate('bob', 'deny', b, '--comment', 'use view')).stdout).toMatch(
      /Denied: denied by bob: use view/,
    );
  });

  it('works as a kubectl plugin: kubectl elevate', async () => {
    const mine = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'edit', namespace: ns, duration: '5m' }));
    expect(mine.status).toBe(201);
    const path = `${join(repo, 'bin')}:${dirname(kubectl)}:${process.env.PATH}`;
    const res = await run(kubectl, ['elevate', 'list', '-o', 'json'], { ...as('alice'), PATH: path });
    expect(res.code, res.stderr).toBe(0);
    expect(
      JSON.parse(res.stdout).items.map((r: { metadata: { name: string } }) => r.metadata.name),
    ).toContain(mine.body.metadata.name);
    const whoami = await run(kubectl, ['elevate', 'whoami'], { ...as('root'), PATH: path });
    expect(whoami.stdout.trim()).toBe('root (groups: platform-admins) [admin] via token-file');
  });

  // Bad input changes nothing; a refusal by policy (the 9h) leaves the attempt on record, Denied.
  it.each([
    [['--duration', 'abc'], /"abc" is not a duration/, 0],
    [['--duration', '5m', '--cluster-wide'], /exactly one of --namespace NS or --cluster-wide/, 0],
    [
      ['--duration', '5m', '--cluster', 'prod'],
      /spec\.cluster: must be one of the configured clusters: dev \(HTTP 400\)/,
      0,
    ],
    [['--duration', '9h'], /exceeds the maximum 8h[\s\S]*recorded as accessrequest\/ar-\w+ \(Denied\)/, 1],
  ])('refuses bad input %j with a clear error and a non-zero exit', async (extra, message, recorded) => {
    const base = ['request', '--cluster', 'dev', '--role', 'view', '--namespace', ns, '--reason', 'r'];
    const before = (await server.as('root').get('/api/v1/accessrequests')).body.items.length;
    // later flags win in commander, so `extra` overrides the base ones
    const res = await elevate('alice', ...base, ...extra);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(message);
    expect((await server.as('root').get('/api/v1/accessrequests')).body.items.length).toBe(before + recorded);
  });

  it('a missing reason or token is refused', async () => {
    const noReason = await elevate(
      'alice',
      'request',
      '--cluster',
      'dev',
      '--role',
      'view',
      '--namespace',
      ns,
      '--duration',
      '5m',
    );
    expect(noReason.code).not.toBe(0);
    expect(noReason.stderr).toMatch(/--reason/);
    const noToken = await elevate(null, 'list');
    expect(noToken.code).not.toBe(0);
    expect(noToken.stderr).toMatch(/bearer token is required \(HTTP 401\)/);
    const unreachable = await run(elevateBin, ['list'], {
      ELEVATE_SERVER: 'http://127.0.0.1:1',
      ELEVATE_TOKEN: 'x',
    });
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.stderr).toMatch(/cannot reach Elevate at http:\/\/127\.0\.0\.1:1/);
  });

  it('audit export is for admins, as CSV or JSON lines', async () => {
    const granted = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '5m' }));
    const id = granted.body.metadata.name;
    await server.as('alice').post(`/api/v1/accessrequests/${id}/revoke`, {});
    const csv = await elevate('root', 'audit', 'export', '--format', 'csv');
    expect(csv.code).toBe(0);
    expect(csv.stdout.split('\r\n')[0]).toBe('seq,time,actor,action,request,cluster,details,prevHash,hash');
    expect(csv.stdout).toMatch(new RegExp(`^\\d+,[^,]+,[^,]+,GrantRevoked,${id},dev,`, 'm'));
    const jsonl = await elevate('root', 'audit', 'export', '--format', 'jsonl');
    const events = jsonl.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const lastSeq = Number(csv.stdout.trim().split('\r\n').at(-1)?.split(',')[0]);
    // Timers may append events between the two exports; compare the part both have.
    expect(events.filter((e) => e.seq <= lastSeq).length).toBe(csv.stdout.trim().split('\r\n').length - 1);
    const denied = await elevate('alice', 'audit', 'export');
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/HTTP 403/);
    const verified = await elevate('root', 'audit', 'verify');
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^audit chain intact\nhead: \d+:[0-9a-f]{64}\n$/);
  });

  it('elevate server refuses a bad config, naming the file and the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'elevate-badconfig-'));
    const file = join(dir, 'elevate.yaml');
    writeFileSync(
      file,
      'storage: sqlite:./e.db\nauth: { tokenFile: ./t.csv }\nclusters: [{ name: dev, kubeconfig: ./k }]\npolicies:\n  - name: p\n    decision: auto\n    maxDuration: abc\n',
    );
    const res = await run(elevateBin, ['server', '--config', file]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain(`${file}: policies[0].maxDuration: "abc" is not a duration`);
    expect(existsSync(join(dir, 'e.db'))).toBe(false);

    // Files the config names are checked before anything is created.
    const base = 'storage: sqlite:./e.db\nauth: { tokenFile: ./t.csv }\n';
    writeFileSync(file, `${base}clusters: [{ name: dev, kubeconfig: ${kubeconfig} }]\n`);
    const noTokens = await run(elevateBin, ['server', '--config', file]);
    expect(noTokens.code).not.toBe(0);
    expect(noTokens.stderr).toContain(
      `${file}: auth.tokenFile: cannot read token file ${join(dir, 't.csv')}: ENOENT`,
    );
    writeFileSync(join(dir, 't.csv'), 'token-x,x\n');
    writeFileSync(file, `${base}clusters: [{ name: dev, kubeconfig: ./missing.kubeconfig }]\n`);
    const noKubeconfig = await run(elevateBin, ['server', '--config', file]);
    expect(noKubeconfig.code).not.toBe(0);
    expect(noKubeconfig.stderr).toContain(
      `${file}: clusters: cluster dev: cannot use kubeconfig ${join(dir, 'missing.kubeconfig')}`,
    );
    expect(existsSync(join(dir, 'e.db'))).toBe(false);
  });

  it('testenv up and down from the CLI', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'elevate-cli-testenv-')), 'env');
    const up = await run(elevateBin, ['testenv', 'up', '--dir', dir]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/^dev\thttps:\/\/127\.0\.0\.1:\d+\t.*dev\/admin\.kubeconfig$/m);
    const version = await run(kubectl, ['version', '-o', 'json'], {
      KUBECONFIG: join(dir, 'dev/admin.kubeconfig'),
    });
    expect(JSON.parse(version.stdout).serverVersion.gitVersion).toMatch(/^v1\.\d+\.\d+/);
    const down = await run(elevateBin, ['testenv', 'down', '--dir', dir]);
    expect(down.code, down.stderr).toBe(0);
    const after = await run(kubectl, ['version', '-o', 'json', '--request-timeout', '2s'], {
      KUBECONFIG: join(dir, 'dev/admin.kubeconfig'),
    });
    expect(after.code).not.toBe(0);
  });
});

describe('elevate over HTTPS', () => {
  it('serves the API with the configured certificate; the CLI trusts it through ELEVATE_CA', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'elevate-tls-'));
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    const made = await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=elevate-test',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    expect(made.code, made.stderr).toBe(0);
    const tlsServer = await startElevate({
      clusters: { dev: elevateKubeconfig('dev') },
      extra: `tls:\n  certFile: ${cert}\n  keyFile: ${key}\n`,
    });
    try {
      expect(tlsServer.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const env = { ELEVATE_SERVER: tlsServer.url, ELEVATE_TOKEN: 'token-alice' };
      const trusted = await run(elevateBin, ['whoami'], { ...env, ELEVATE_CA: cert });
      expect(trusted.code, trusted.stderr).toBe(0);
      expect(trusted.stdout.trim()).toBe('alice (groups: devs) via token-file');
      const untrusted = await run(elevateBin, ['whoami'], env);
      expect(untrusted.code).not.toBe(0);
      expect(untrusted.stderr).toMatch(
        /cannot reach Elevate at https:\/\/127\.0\.0\.1:\d+: .*(CERT|SELF_SIGNED)/,
      );
    } finally {
      await tlsServer.stop();
    }
  });
});
