import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningElevate, requestBody, startElevate } from '../support/elevate.js';
import { canI, createNamespace, rbacApi, testKubeconfig, uniqueName, waitFor } from '../support/kube.js';
import { type ProxiedCluster, proxiedCluster } from '../support/proxied-cluster.js';

let server: RunningElevate;
let proxy: ProxiedCluster;
let kubeconfig: string;

beforeAll(async () => {
  kubeconfig = testKubeconfig('dev2');
  proxy = await proxiedCluster('dev2');
  server = await startElevate({ clusters: { dev2: proxy.kubeconfig }, reconcileInterval: '1s' });
});

afterAll(async () => {
  await server?.stop();
  await proxy?.cut();
});

const phaseOf = async (id: string) =>
  (await server.as('root').get(`/api/v1/accessrequests/${id}`)).body.status.phase as string;

describe('an unreachable cluster', () => {
  it('never has its grant marked expired or revoked until the binding is really gone', async () => {
    const ns = uniqueName('unreach');
    await createNamespace(kubeconfig, ns);
    const canList = () => canI(kubeconfig, { user: 'alice', verb: 'list', resource: 'pods', namespace: ns });
    const expiring = await server
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ cluster: 'dev2', role: 'view', namespace: ns, duration: '2s' }),
      );
    expect(expiring.body.status.phase).toBe('Active');
    const revoking = await server
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ cluster: 'dev2', role: 'view', namespace: ns, duration: '1h' }),
      );
    expect(revoking.body.status.phase).toBe('Active');
    const pending = await server
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ cluster: 'dev2', role: 'edit', namespace: ns, duration: '1h' }),
      );
    expect(pending.body.status.phase).toBe('Pending');
    const pendingId = pending.body.metadata.name;
    expect(await canList()).toBe(true);

    await proxy.cut();
    // Approved while the cluster is away: the binding cannot be written, so the request waits in Approved...
    await server.as('bob').post(`/api/v1/accessrequests/${pendingId}/approve`, {});
    const approved = await server.as('carol').post(`/api/v1/accessrequests/${pendingId}/approve`, {});
    expect(approved.body.status.phase).toBe('Approved');
    expect(approved.body.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'Granted', status: 'False', reason: 'Activating' }),
    );
    // ...and can still be revoked, by the requester, an approver or an admin, but nobody else.
    expect((await server.as('dave').post(`/api/v1/accessrequests/${pendingId}/revoke`, {})).status).toBe(403);
    const stopped = await server
      .as('carol')
      .post(`/api/v1/accessrequests/${pendingId}/revoke`, { reason: 'not needed' });
    expect(stopped.status).toBe(200);
    expect(stopped.body.status.revocation).toMatchObject({ by: 'carol' });

    const revoke = await server
      .as('alice')
      .post(`/api/v1/accessrequests/${revoking.body.metadata.name}/revoke`, {
        reason: 'while the cluster is away',
      });
    expect(revoke.status).toBe(200);
    expect(revoke.body.status.phase).toBe('Active');
    expect(revoke.body.status.revocation).toMatchObject({ by: 'alice', reason: 'while the cluster is away' });
    expect(revoke.body.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'Granted', status: 'True', reason: 'RevocationPending' }),
    );

    // Past expiry, the cluster still unreachable: the grant stays Active, because its binding still exists.
    await new Promise((r) => setTimeout(r, 4000));
    expect(await phaseOf(expiring.body.metadata.name)).toBe('Active');
    expect(await phaseOf(revoking.body.metadata.name)).toBe('Active');
    expect(await canList()).toBe(true);

    await proxy.restore();
    await waitFor(async () => (await phaseOf(expiring.body.metadata.name)) === 'Expired', {
      timeoutMs: 40_000,
    });
    await waitFor(async () => (await phaseOf(revoking.body.metadata.name)) === 'Revoked', {
      timeoutMs: 40_000,
    });
    await waitFor(async () => (await phaseOf(pendingId)) === 'Revoked', { timeoutMs: 40_000 });
    expect(await canList()).toBe(false);
    expect(
      await canI(kubeconfig, {
        user: 'alice',
        verb: 'create',
        resource: 'deployments',
        group: 'apps',
        namespace: ns,
      }),
    ).toBe(false);
    const leftovers = await rbacApi(kubeconfig).listNamespacedRoleBinding({ namespace: ns });
    expect(leftovers.items.map((b) => b.metadata?.name)).toEqual([]);
  });
});
