import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestCluster, testenvDown, testenvUp } from '../../src/testenv/testenv.js';
import { aliceAsksForView } from '../support/elevate.js';
import { freePort } from '../support/free-port.js';
import { canI, createNamespace, uniqueName, waitFor } from '../support/kube.js';
import { kubectlWith } from '../support/kubectl.js';
import { type PolicyServer, serveFromFile, startPolicyElevate } from '../support/policy-config.js';
import { writeTestPki } from '../support/test-pki.js';

/**
 * Webhook grants (policy grant: webhook) on a control plane of their own whose API server asks Elevate:
 * a structured AuthorizationConfiguration with Node, RBAC, then Elevate's webhook (failurePolicy
 * NoOpinion, decisions not cached; src/testenv/authz-webhook.ts). Nothing is written to the cluster; SubjectAccessReviews (which go
 * through the API server's whole authorizer chain, as `kubectl auth can-i` does) show the access.
 */
describe('webhook grants', () => {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-webhook-'));
  const token = randomBytes(24).toString('hex');
  let cluster: TestCluster;
  let server: PolicyServer;
  let listen: string;
  const dispatcher = getGlobalDispatcher();
  const may = (ns: string, verb = 'list') =>
    canI(cluster.kubeconfigPath, { user: 'alice', groups: ['devs'], verb, resource: 'pods', namespace: ns });

  beforeAll(async () => {
    const port = await freePort();
    listen = `127.0.0.1:${port}`;
    // HTTPS: the API server sends its bearer token to a webhook over TLS only.
    const pki = await writeTestPki(dir);
    setGlobalDispatcher(
      new Agent({ connect: { ca: [...rootCertificates, readFileSync(pki.caCert, 'utf8')] } }),
    );
    writeFileSync(join(dir, 'webhook-token'), token);
    // What `elevate testenv up --authz-webhook URL --authz-webhook-token-file F --authz-webhook-ca-file CA`
    // does: a structured AuthorizationConfiguration with Node, RBAC, then Elevate (NoOpinion, no cache).
    [cluster] = (await testenvUp({
      dir: join(dir, 'testenv'),
      clusters: 1,
      authzWebhook: {
        url: `https://${listen}/api/v1/authorize/{cluster}`,
        tokenFile: join(dir, 'webhook-token'),
        caFile: pki.caCert,
      },
    })) as [TestCluster];
    server = await startPolicyElevate({
      listen,
      clusters: { dev: cluster.elevateKubeconfigPath },
      clusterLines: {
        dev: ['grants: [binding, webhook]', `authorization: { tokenFile: ${join(dir, 'webhook-token')} }`],
      },
      policyText: `
tls: { certFile: ${pki.serverCert}, keyFile: ${pki.serverKey} }
policies:
  - name: webhook-view
    match: { groups: [devs], roles: [view] }
    decision: auto
    maxDuration: 1h
    grant: webhook
`,
    });
  }, 120_000);
  afterAll(async () => {
    setGlobalDispatcher(dispatcher);
    await server?.stop();
    await testenvDown({ dir: join(dir, 'testenv') });
    rmSync(dir, { recursive: true, force: true });
  });

  it('allows while Active with nothing written to the cluster, and not after revoke or expiry, across a restart', async () => {
    const ns = uniqueName('hook');
    await createNamespace(cluster.kubeconfigPath, ns);
    expect(await may(ns)).toBe(false);

    const granted = await aliceAsksForView(server, ns, '30m');
    expect(granted.status, JSON.stringify(granted.body)).toBe(201);
    expect(granted.body.status.grant).toMatchObject({ mechanism: 'webhook', bindings: [] });
    const id: string = granted.body.metadata.name;
    expect(await may(ns)).toBe(true);
    // The role's rules hold exactly: view lists pods there, deletes none, and reaches no other namespace.
    expect(await may(ns, 'delete')).toBe(false);
    expect(await may('default')).toBe(false);
    const bindings = await kubectlWith(cluster.kubeconfigPath, [
      'get',
      'rolebindings',
      '-A',
      '-l',
      'app.kubernetes.io/managed-by=elevate',
      '-o',
      'name',
    ]);
    expect(bindings.out.trim()).toBe('');

    // A restart: the index is read back from the store before the API listens again.
    await server.stop();
    expect(await may(ns)).toBe(false); // webhook unreachable: no opinion, so RBAC alone decides
    server = await serveFromFile(server.configFile);
    expect(await may(ns)).toBe(true);

    const revoked = await server.as('alice').post(`/api/v1/accessrequests/${id}/revoke`, { reason: 'done' });
    expect(revoked.body.status.phase).toBe('Revoked');
    expect(await may(ns)).toBe(false);

    const short = await aliceAsksForView(server, ns, '2s');
    expect(short.status).toBe(201);
    expect(await may(ns)).toBe(true);
    await waitFor(async () => !(await may(ns)), { timeoutMs: 10_000, intervalMs: 100 });
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(short.body.status.grant.expiresAt));
  });

  it('answers only the cluster’s own token', async () => {
    const sar = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: 'alice', resourceAttributes: { verb: 'list', resource: 'pods', namespace: 'default' } },
    };
    const post = (auth: string | null, path = '/api/v1/authorize/dev') =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify(sar),
      });
    expect((await post(null)).status).toBe(401);
    expect((await post('Bearer wrong')).status).toBe(401);
    expect((await post(`Bearer ${token}`, '/api/v1/authorize/other')).status).toBe(401);
    const answered = await post(`Bearer ${token}`);
    expect(answered.status).toBe(200);
    expect(await answered.json()).toEqual({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      status: { allowed: false },
    });
  });
});
