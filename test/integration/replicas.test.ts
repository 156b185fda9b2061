import { describe, expect, inject, it } from 'vitest';
import { auditEvents, type RunningElevate, requestBody, startElevate } from '../support/elevate.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';
import { createDatabase } from '../support/postgres-server.js';

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
      const viaFollower = await grant(follower, 'alice', '3s');
      expect(await canList('alice')).toBe(true);
      await waitFor(async () => (await phaseOf(follower, viaFollower)) === 'Expired', { timeoutMs: 10_000 });
      expect(await canList('alice')).toBe(false);

      // Made on the leader, which then stops before the grant expires: the other server takes over.
      const orphaned = await grant(leader, 'dave', '4s');
      await leader.stop();
      servers.splice(servers.indexOf(leader), 1);
      await waitFor(() => follower.isLeader(), { timeoutMs: 5000 });
      await waitFor(async () => (await phaseOf(follower, orphaned)) === 'Expired', { timeoutMs: 10_000 });
      expect(await canList('dave')).toBe(false);
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
});
