import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, type RunningElevate, requestBody, startElevate } from '../support/elevate.js';
import { createNamespace, elevateKubeconfig, testKubeconfig, uniqueName, waitFor } from '../support/kube.js';

let server: RunningElevate;
let core: k8s.CoreV1Api;

beforeAll(async () => {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testKubeconfig('dev'));
  core = kc.makeApiClient(k8s.CoreV1Api);
  server = await startElevate({ clusters: { dev: elevateKubeconfig('dev') } });
});

afterAll(async () => {
  await server?.stop();
});

describe('an approval the cluster refuses for good', () => {
  it('ends the request, saying why, instead of retrying it for ever', async () => {
    const ns = uniqueName('refused');
    await createNamespace(testKubeconfig('dev'), ns);
    // edit-needs-two: two sre-leads must approve, so the namespace can go while the request waits.
    const res = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'edit', namespace: ns, duration: '10m' }));
    expect(res.body.status.phase).toBe('Pending');
    const id: string = res.body.metadata.name;

    await core.deleteNamespace({ name: ns });
    await waitFor(
      () =>
        core.readNamespace({ name: ns }).then(
          () => false,
          () => true,
        ),
      { timeoutMs: 30_000 },
    );

    expect((await server.as('bob').post(`/api/v1/accessrequests/${id}/approve`)).body.status.phase).toBe(
      'Pending',
    );
    const approved = await server.as('carol').post(`/api/v1/accessrequests/${id}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body.status.phase).toBe('Revoked');
    expect(approved.body.status.message).toBe(
      `revoked by system:elevate: namespace ${ns} on cluster dev was deleted`,
    );
    expect(approved.body.status.grant).toBeNull();

    const events = (await auditEvents(server)).filter((e) => e.requestId === id);
    expect(events.map((e) => e.action)).toEqual([
      'RequestCreated',
      'ApprovalRecorded',
      'ApprovalRecorded',
      'RequestApproved',
      'GrantRevoked',
    ]);
    expect(events.at(-1)).toMatchObject({ actor: 'system:elevate', details: { by: 'system:elevate' } });
  });
});
