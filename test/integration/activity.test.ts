import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { promisify } from 'node:util';
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveKubeBinaries } from '../../src/testenv/kube-binaries.js';
import { type TestCluster, testenvDown, testenvUp } from '../../src/testenv/testenv.js';
import { auditEvents, type RunningElevate, requestBody, startElevate } from '../../test/support/elevate.js';
import { elevateBin, run as runCli } from '../support/cli.js';
import { freePort } from '../support/free-port.js';
import { createNamespace, uniqueName, userKubeconfig, waitFor } from '../support/kube.js';
import { writeTestPki } from '../support/test-pki.js';

const run = promisify(execFile);

/**
 * A cluster of its own whose API server sends its audit events to this file's Elevate: the shared test
 * clusters have no audit webhook. alice, dave and mallory act through kubectl with client certificates of
 * their own (not impersonation), so the API server names them as it names any user.
 */
let dir: string;
let cluster: TestCluster;
let server: RunningElevate;
let kubectl: string;
const kubeconfigs: Record<string, string> = {};
let ns: string;
let tls: { ca: string; cert: string; key: string };
let other: string;
const token = 'audit-webhook-token-0123456789';

/** kubectl as `user`; resolves with its exit code rather than throwing on a refusal. */
async function kubectlAs(user: string, args: string[]): Promise<number> {
  try {
    await run(kubectl, ['--kubeconfig', kubeconfigs[user] as string, ...args]);
    return 0;
  } catch (e) {
    return (e as { code?: number }).code ?? 1;
  }
}

interface Action {
  verb: string;
  resource: string | null;
  namespace: string | null;
  name: string | null;
  code: number | null;
  user: string;
  impersonator: string | null;
  viaGrant: boolean;
}
const activityOf = async (id: string): Promise<{ count: number; items: Action[] }> =>
  (await server.as('root').get(`/api/v1/accessrequests/${id}/activity`)).body;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'elevate-activity-'));
  writeFileSync(join(dir, 'token'), token);
  const port = await freePort();
  // The API server sends its token only over TLS: Elevate serves HTTPS with a certificate of a test CA.
  const pki = await writeTestPki(dir);
  tls = { ca: pki.caCert, cert: pki.serverCert, key: pki.serverKey };
  setGlobalDispatcher(new Agent({ connect: { ca: [...rootCertificates, readFileSync(tls.ca, 'utf8')] } }));
  [cluster] = (await testenvUp({
    dir,
    auditWebhook: {
      url: `https://127.0.0.1:${port}/api/v1/activity/kube-audit/{cluster}`,
      tokenFile: join(dir, 'token'),
      caFile: tls.ca,
    },
  })) as [TestCluster];
  kubectl = (await resolveKubeBinaries(undefined, () => {})).kubectl;
  server = await startElevate({
    clusters: { [cluster.name]: cluster.elevateKubeconfigPath },
    listen: `127.0.0.1:${port}`,
    activityTokens: { [cluster.name]: join(dir, 'token') },
    extra: `tls:\n  certFile: ${tls.cert}\n  keyFile: ${tls.key}\n`,
  });
  ns = uniqueName('act');
  other = uniqueName('act');
  await createNamespace(cluster.kubeconfigPath, ns);
  await createNamespace(cluster.kubeconfigPath, other);
  kubeconfigs.alice = await userKubeconfig(cluster, 'alice', ['devs']);
  kubeconfigs.dave = await userKubeconfig(cluster, 'dave', ['devs']);
  kubeconfigs.mallory = await userKubeconfig(cluster, 'mallory', ['contractors']);
  kubeconfigs.admin = cluster.kubeconfigPath;
}, 180_000);

const dispatcherBefore = getGlobalDispatcher();
afterAll(async () => {
  setGlobalDispatcher(dispatcherBefore);
  await server?.stop();
  if (dir) await testenvDown({ dir });
});

describe('activity capture from the API server’s audit webhook', () => {
  it('records what alice did under her edit grant, exactly, and nothing of anyone else; not after it ended', async () => {
    const asked = await server
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ cluster: 'dev', role: 'edit', namespace: ns, duration: '10m' }),
      );
    const id = asked.body.metadata.name;
    await server.as('bob').post(`/api/v1/accessrequests/${id}/approve`, {});
    const active = await server.as('carol').post(`/api/v1/accessrequests/${id}/approve`, {});
    expect(active.body.status.phase).toBe('Active');
    // Someone else acts meanwhile, and alice acts outside her grant's namespace: neither is hers to record.
    expect(await kubectlAs('mallory', ['get', 'configmaps', '-n', ns])).not.toBe(0);
    expect(await kubectlAs('admin', ['create', 'configmap', 'by-admin', '-n', ns])).toBe(0);
    expect(await kubectlAs('alice', ['get', 'configmaps', '-n', other])).not.toBe(0);
    expect(await kubectlAs('alice', ['create', 'configmap', 'cm1', '-n', ns, '--from-literal=a=b'])).toBe(0);
    expect(await kubectlAs('alice', ['delete', 'configmap', 'cm1', '-n', ns, '--wait=false'])).toBe(0);

    const got = await waitFor(
      async () => {
        const a = await activityOf(id);
        return a.items.some((x) => x.verb === 'delete') ? a : null;
      },
      { timeoutMs: 30_000 },
    );
    expect(got.items.map((a) => [a.verb, a.resource, a.namespace, a.name, a.code])).toEqual([
      ['create', 'configmaps', ns, 'cm1', 201],
      ['delete', 'configmaps', ns, 'cm1', 200],
    ]);
    for (const a of got.items) expect(a).toMatchObject({ user: 'alice', impersonator: null, viaGrant: true });

    // An impersonated request counts for the impersonated user, and names who impersonated.
    expect(
      await kubectlAs('admin', [
        'get',
        'configmap',
        'by-admin',
        '-n',
        ns,
        '--as',
        'alice',
        '--as-group',
        'devs',
      ]),
    ).toBe(0);
    const impersonated = await waitFor(async () =>
      (await activityOf(id)).items.find((a) => a.impersonator !== null),
    );
    expect(impersonated).toMatchObject({
      verb: 'get',
      name: 'by-admin',
      user: 'alice',
      impersonator: 'elevate-admin',
      viaGrant: true,
    });

    // The actions reach the audit trail (and so every sink) as GrantActivity events.
    const trail = (await auditEvents(server)).filter(
      (e) => e.action === 'GrantActivity' && e.requestId === id,
    );
    expect(trail.reduce((n, e) => n + e.details.count, 0)).toBe(3);

    // Once it ends, her attempts are hers alone: dave's action afterwards shows the batch with hers arrived.
    await server.as('alice').post(`/api/v1/accessrequests/${id}/revoke`, {});
    expect(await kubectlAs('alice', ['get', 'configmaps', '-n', ns])).not.toBe(0);
    const daves = await server
      .as('dave')
      .post(
        '/api/v1/accessrequests',
        requestBody({ cluster: 'dev', role: 'view', namespace: other, duration: '10m' }),
      );
    expect(daves.body.status.phase).toBe('Active');
    expect(await kubectlAs('dave', ['get', 'configmaps', '-n', other])).toBe(0);
    await waitFor(async () => (await activityOf(daves.body.metadata.name)).count > 0, { timeoutMs: 30_000 });
    expect((await activityOf(id)).count).toBe(3);

    // elevate get shows the count; the report lists the actions for the review.
    const report = (await server.as('alice').get(`/api/v1/accessrequests/${id}/report?format=md`))
      .body as string;
    expect(report).toContain(`# Access report: ${id}`);
    expect(report).toContain('## Actions taken under the grant (3)');
    expect(report).toContain(`create configmaps cm1 in ${ns} -> 201`);
    expect(report).toContain(`delete configmaps cm1 in ${ns} -> 200`);
    expect(report).toMatch(/\| bob \| Approved \|/);
    expect(report).toContain('Ended: Revoked');
    const json = (await server.as('alice').get(`/api/v1/accessrequests/${id}/report?format=json`)).body;
    expect(json.activity.count).toBe(3);
    expect(json.timeline.map((e: { action: string }) => e.action)).toEqual(
      expect.arrayContaining(['RequestCreated', 'GrantActivated', 'GrantActivity', 'GrantRevoked']),
    );
    // The same through the CLI: elevate activity, get (with the count) and report.
    const cli = (...args: string[]) =>
      runCli(elevateBin, args, {
        ELEVATE_SERVER: server.url,
        ELEVATE_TOKEN: 'token-alice',
        ELEVATE_CA: tls.ca,
      });
    const listed = await cli('activity', id);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`alice\\s+create\\s+configmaps\\s+${ns}\\s+cm1\\s+201\\s+yes`));
    expect(listed.stdout).toMatch(/alice \(by elevate-admin\)\s+get\s+configmaps/);
    expect((await cli('get', id)).stdout).toContain('3 action(s) recorded');
    const md = await cli('report', id);
    expect(md.stdout).toContain('## Actions taken under the grant (3)');
    // Only who may see the request reads what was done under it.
    expect((await server.as('mallory').get(`/api/v1/accessrequests/${id}/activity`)).status).toBe(403);
    // limit is a count: one action, or none given is the default; an empty or fractional one is refused.
    const limited = await server.as('root').get(`/api/v1/accessrequests/${id}/activity?limit=1`);
    expect(limited.body.items).toHaveLength(1);
    for (const bad of ['', '1.5', '-1', 'x']) {
      expect((await server.as('root').get(`/api/v1/accessrequests/${id}/activity?limit=${bad}`)).status).toBe(
        400,
      );
    }
  });

  it('takes events only with the cluster’s own token', async () => {
    const post = (path: string, auth?: string) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify({ apiVersion: 'audit.k8s.io/v1', kind: 'EventList', items: [] }),
      });
    expect((await post('/api/v1/activity/kube-audit/dev')).status).toBe(401);
    expect((await post('/api/v1/activity/kube-audit/dev', 'Bearer wrong')).status).toBe(401);
    expect((await post('/api/v1/activity/kube-audit/nope', `Bearer ${token}`)).status).toBe(401);
    // A person's token is not a cluster's.
    expect((await post('/api/v1/activity/kube-audit/dev', 'Bearer token-root')).status).toBe(401);
    const ok = await post('/api/v1/activity/kube-audit/dev', `Bearer ${token}`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ received: 0, attributed: 0, recorded: 0 });
    const bad = await fetch(`${server.url}/api/v1/activity/kube-audit/dev`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ kind: 'Status' }),
    });
    expect(bad.status).toBe(400);
  });
});
