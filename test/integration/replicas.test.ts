import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { describe, expect, inject, it } from 'vitest';
import { auditEvents, type RunningElevate, requestBody, startElevate } from '../support/elevate.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  rbacApi,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';
import { createDatabase } from '../support/postgres-server.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

/** Elevate's kubeconfig for a cluster, through a proxy the test can slow down. */
async function slowableCluster(cluster: string) {
  const text = readFileSync(elevateKubeconfig(cluster), 'utf8');
  const port = Number(/server: https:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1]);
  const proxy = await startTcpProxy({ host: '127.0.0.1', port });
  const kubeconfig = join(tmpdir(), `${uniqueName(`${cluster}-slow`)}.kubeconfig`);
  writeFileSync(kubeconfig, text.replace(`127.0.0.1:${port}`, `127.0.0.1:${proxy.port()}`));
  return { kubeconfig, proxy };
}

async function roleBindingExists(namespace: string, name: string): Promise<boolean> {
  try {
    await rbacApi(testKubeconfig('dev')).readNamespacedRoleBinding({ name, namespace });
    return true;
  } catch (e) {
    if ((e as k8s.ApiException<unknown>).code === 404) return false;
    throw e;
  }
}

describe('several Elevate servers on one PostgreSQL database', () => {
  it('run the jobs on exactly one; grants made anywhere expire on time; a stopped leader is replaced', async () => {
    const storage = await createDatabase(inject('postgresUrl'), 'replicas');
    const kubeconfig = testKubeconfig('dev');
    const ns = uniqueName('replicas');
    await createNamespace(kubeconfig, ns);
    const options = { clusters: { dev: elevateKubeconfig('dev') }, storage };
    const servers: RunningElevate[] = [await startElevate(options), await startElevate(options)];
    try {
      const leaders = async () => {
        const leading = await Promise.all(servers.map((s) => s.isLeader()));
        return servers.filter((_, i) => leading[i]);
      };
      await waitFor(async () => (await leaders()).length === 1, { timeoutMs: 5000 });
      const [leader] = (await leaders()) as [RunningElevate];
      const follower = servers.find((s) => s !== leader) as RunningElevate;
      const phaseOf = async (on: RunningElevate, id: string) =>
        (await on.as('root').get(`/api/v1/accessrequests/${id}`)).body.status.phase as string;
      const grant = async (on: RunningElevate, user: 'alice' | 'dave', duration: string) => {
        const res = await on
          .as(user)
          .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration }));
        expect(res.body.status.phase).toBe('Active');
        return res.body.metadata.name as string;
      };
      const canList = (user: string) =>
        canI(kubeconfig, { user, verb: 'list', resource: 'pods', namespace: ns });

      // Made on the follower, expired by the leader's timers.
      const viaFollower = await grant(follower, 'alice', '5s');
      // RBAC's authorizer cache lags Elevate's answer, so the API server is asked until it agrees.
      await waitFor(() => canList('alice'));
      await waitFor(async () => (await phaseOf(follower, viaFollower)) === 'Expired', { timeoutMs: 10_000 });
      await waitFor(async () => !(await canList('alice')));

      // Made on the leader, which then stops before the grant expires: the other server takes over.
      const orphaned = await grant(leader, 'dave', '4s');
      await leader.stop();
      servers.splice(servers.indexOf(leader), 1);
      await waitFor(() => follower.isLeader(), { timeoutMs: 5000 });
      await waitFor(async () => (await phaseOf(follower, orphaned)) === 'Expired', { timeoutMs: 10_000 });
      await waitFor(async () => !(await canList('dave')));
      const events = await auditEvents(follower);
      expect(events.filter((e) => e.action === 'GrantExpired').map((e) => e.requestId)).toEqual([
        viaFollower,
        orphaned,
      ]);
      expect((await follower.as('root').get('/api/v1/audit/verify')).body.intact).toBe(true);
    } finally {
      for (const s of servers) await s.stop();
    }
  });

  it('never report a grant Revoked while the binding the leader is writing for it may still land', async () => {
    const storage = await createDatabase(inject('postgresUrl'), 'fenced');
    const ns = uniqueName('fenced');
    await createNamespace(testKubeconfig('dev'), ns);
    // A long interval and no drift on the follower: nothing but the revocation itself removes the binding.
    const slow = await slowableCluster('dev');
    const leader = await startElevate({
      clusters: { dev: slow.kubeconfig },
      storage,
      reconcileInterval: '10m',
    });
    const servers = [leader];
    try {
      await waitFor(() => leader.isLeader(), { timeoutMs: 5000 });
      const follower = await startElevate({
        clusters: { dev: elevateKubeconfig('dev') },
        storage,
        reconcileInterval: '10m',
      });
      servers.push(follower);
      expect(await follower.isLeader()).toBe(false);
      const created = await follower
        .as('alice')
        .post('/api/v1/accessrequests', requestBody({ role: 'edit', namespace: ns, duration: '30m' }));
      const id = created.body.metadata.name as string;
      expect((await follower.as('bob').post(`/api/v1/accessrequests/${id}/approve`)).body.status.phase).toBe(
        'Pending',
      );

      // The leader's cluster now answers seconds late, so the second approval, made there, leaves the
      // request Approved while its binding is on the way; the requester revokes it on the follower then.
      slow.proxy.delay(1500);
      const approving = leader.as('carol').post(`/api/v1/accessrequests/${id}/approve`);
      await waitFor(
        async () =>
          (await follower.as('root').get(`/api/v1/accessrequests/${id}`)).body.status.phase === 'Approved',
        { intervalMs: 20 },
      );
      const revoked = await follower
        .as('alice')
        .post(`/api/v1/accessrequests/${id}/revoke`, { reason: 'done' });
      await approving;
      slow.proxy.delay(0);

      expect(revoked.body.status.phase).toBe('Revoked');
      expect(await roleBindingExists(ns, `elevate-${id}`)).toBe(false);
      const actions = (await auditEvents(follower)).filter((e) => e.requestId === id).map((e) => e.action);
      expect(actions).toContain('GrantRevoked');
    } finally {
      for (const s of servers) await s.stop();
    }
  });
});
