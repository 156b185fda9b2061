import { describe, expect, inject, it } from 'vitest';
import { requestBody, startElevate } from '../support/elevate.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';
import { createDatabase } from '../support/postgres-server.js';

describe('Elevate on PostgreSQL', () => {
  it('grants, survives a restart on the same database, revokes, and keeps the audit chain', async () => {
    const storage = await createDatabase(inject('postgresUrl'), 'server');
    const kubeconfig = testKubeconfig('dev');
    const ns = uniqueName('pg');
    await createNamespace(kubeconfig, ns);
    const canList = () => canI(kubeconfig, { user: 'alice', verb: 'list', resource: 'pods', namespace: ns });
    const options = { clusters: { dev: elevateKubeconfig('dev') }, storage };

    const first = await startElevate(options);
    const created = await first
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '30m' }));
    expect(created.body.status.phase).toBe('Active');
    const id = created.body.metadata.name;
    // RBAC's authorizer cache follows the binding a little later than Elevate answers.
    await waitFor(canList);
    await first.stop();

    const second = await startElevate(options);
    try {
      expect((await second.as('alice').get(`/api/v1/accessrequests/${id}`)).body.status.phase).toBe('Active');
      const revoked = await second
        .as('alice')
        .post(`/api/v1/accessrequests/${id}/revoke`, { reason: 'done' });
      expect(revoked.body.status.phase).toBe('Revoked');
      await waitFor(async () => !(await canList()));
      const csv = (await second.as('root').get('/api/v1/audit/export?format=csv')).body as string;
      expect(
        csv
          .split('\r\n')
          .filter((l) => l.includes(id))
          .map((l) => l.split(',')[3]),
      ).toEqual(['RequestCreated', 'RequestApproved', 'GrantActivated', 'RevokeRequested', 'GrantRevoked']);
      expect((await second.as('root').get('/api/v1/audit/verify')).body).toMatchObject({
        intact: true,
        firstBrokenSeq: null,
      });
    } finally {
      await second.stop();
    }
  });
});
