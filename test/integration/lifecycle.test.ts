import type * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

let server: RunningElevate;
let kubeconfig: string;
let rbac: k8s.RbacAuthorizationV1Api;

beforeAll(async () => {
  kubeconfig = testKubeconfig('dev');
  rbac = rbacApi(kubeconfig);
  server = await startElevate({ clusters: { dev: elevateKubeconfig('dev') } });
});

afterAll(async () => {
  await server?.stop();
});

async function newNamespace(): Promise<string> {
  const ns = uniqueName('lc');
  await createNamespace(kubeconfig, ns);
  return ns;
}

const canGetPods = (user: string, namespace?: string) =>
  canI(kubeconfig, { user, verb: 'get', resource: 'pods', ...(namespace ? { namespace } : {}) });

/**
 * Waits until the API server's answer is `expected`. RBAC's authorizer works from a cache that follows a
 * binding's creation or deletion a little later, so asking once right after Elevate answers could flake.
 */
const eventually = (check: () => Promise<boolean>, expected = true) =>
  waitFor(async () => (await check()) === expected);

/** The status conditions as type -> "status/reason". */
function conditions(resource: {
  status: { conditions: { type: string; status: string; reason: string }[] };
}) {
  return Object.fromEntries(resource.status.conditions.map((c) => [c.type, `${c.status}/${c.reason}`]));
}

async function phaseOf(id: string): Promise<string> {
  return (await server.as('root').get(`/api/v1/accessrequests/${id}`)).body.status.phase;
}

describe('an auto-approved grant', () => {
  it('is denied before, allowed while active, denied after expiry, and leaves a labelled binding meanwhile', async () => {
    const ns = await newNamespace();
    expect(await canGetPods('alice', ns)).toBe(false);

    const res = await server
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ role: 'view', namespace: ns, duration: '3s', ticket: 'INC-7' }),
      );
    expect(res.status).toBe(201);
    const id = res.body.metadata.name;
    expect(res.body).toMatchObject({
      apiVersion: 'elevate.dev/v1',
      kind: 'AccessRequest',
      spec: {
        requester: 'alice',
        cluster: 'dev',
        role: 'view',
        namespace: ns,
        duration: '3s',
        ticket: 'INC-7',
      },
      status: { phase: 'Active', policy: 'view-auto' },
    });
    await eventually(() => canGetPods('alice', ns));
    expect(await canGetPods('dave', ns)).toBe(false);

    const binding = await rbac.readNamespacedRoleBinding({ name: `elevate-${id}`, namespace: ns });
    expect(binding.metadata?.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'elevate',
      'elevate.dev/request': id,
    });
    expect(binding.metadata?.annotations).toMatchObject({
      'elevate.dev/request': id,
      'elevate.dev/user': 'alice',
      'elevate.dev/reason': 'testing',
      'elevate.dev/ticket': 'INC-7',
    });
    expect(binding.metadata?.annotations?.['elevate.dev/expires-at']).toBeTruthy();
    expect(binding.roleRef).toMatchObject({ kind: 'ClusterRole', name: 'view' });

    const expiresAt = Date.parse(res.body.status.grant.expiresAt);
    const activatedAt = Date.parse(res.body.status.grant.activatedAt);
    expect(expiresAt - activatedAt).toBe(3000);

    expect(conditions(res.body)).toEqual({
      Approved: 'True/PolicyAutoApproved',
      Granted: 'True/BindingPresent',
    });
    await waitFor(async () => (await phaseOf(id)) === 'Expired', { timeoutMs: 10_000 });
    const expired = await server.as('alice').get(`/api/v1/accessrequests/${id}`);
    expect(conditions(expired.body)).toEqual({
      Approved: 'True/PolicyAutoApproved',
      Granted: 'False/Expired',
    });
    await eventually(() => canGetPods('alice', ns), false);
    await expect(
      rbac.readNamespacedRoleBinding({ name: `elevate-${id}`, namespace: ns }),
    ).rejects.toMatchObject({
      code: 404,
    });
  });

  it('can be cluster-wide, through a ClusterRoleBinding', async () => {
    const ns = await newNamespace();
    expect(await canI(kubeconfig, { user: 'alice', verb: 'list', resource: 'pods' })).toBe(false);
    const res = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'view', clusterWide: true, duration: '10m' }));
    expect(res.status).toBe(201);
    expect(res.body.status.grant.bindings).toEqual([
      {
        cluster: 'dev',
        kind: 'ClusterRoleBinding',
        name: `elevate-${res.body.metadata.name}`,
        namespace: null,
      },
    ]);
    await eventually(() => canI(kubeconfig, { user: 'alice', verb: 'list', resource: 'pods' }));
    await eventually(() => canGetPods('alice', ns));

    const revoked = await server
      .as('alice')
      .post(`/api/v1/accessrequests/${res.body.metadata.name}/revoke`, { reason: 'done early' });
    expect(revoked.status).toBe(200);
    expect(revoked.body.status.phase).toBe('Revoked');
    expect(revoked.body.status.message).toContain('done early');
    await eventually(() => canI(kubeconfig, { user: 'alice', verb: 'list', resource: 'pods' }), false);
  });

  it('grants a namespaced Role with --role-kind Role', async () => {
    const ns = await newNamespace();
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'configmap-reader' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
      },
    });
    const can = () => canI(kubeconfig, { user: 'alice', verb: 'get', resource: 'configmaps', namespace: ns });
    expect(await can()).toBe(false);
    const res = await server
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ role: 'configmap-reader', roleKind: 'Role', namespace: ns, duration: '5m' }),
      );
    expect(res.status).toBe(201);
    expect(res.body.status.phase).toBe('Active');
    await eventually(can);
    const binding = await rbac.readNamespacedRoleBinding({
      name: `elevate-${res.body.metadata.name}`,
      namespace: ns,
    });
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: 'configmap-reader' });
  });
});

describe('a grant that needs approval', () => {
  it('waits for a quorum of distinct approvers, never the requester, then works until revoked', async () => {
    const ns = await newNamespace();
    const canCreateDeployments = () =>
      canI(kubeconfig, {
        user: 'alice',
        verb: 'create',
        resource: 'deployments',
        group: 'apps',
        namespace: ns,
      });

    const res = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'edit', namespace: ns, duration: '30m' }));
    expect(res.status).toBe(201);
    const id = res.body.metadata.name;
    expect(res.body.status).toMatchObject({ phase: 'Pending', requiredApprovals: 2, grant: null });
    expect(conditions(res.body)).toEqual({
      Approved: 'Unknown/WaitingForApprovers',
      Granted: 'False/NotApproved',
    });
    expect(await canCreateDeployments()).toBe(false);

    const self = await server.as('alice').post(`/api/v1/accessrequests/${id}/approve`, {});
    expect(self.status).toBe(403);
    expect(self.body.detail).toMatch(/cannot approve or deny their own/);
    const stranger = await server.as('dave').post(`/api/v1/accessrequests/${id}/approve`, {});
    expect(stranger.status).toBe(403);
    const outsider = await server.as('mallory').post(`/api/v1/accessrequests/${id}/approve`, {});
    expect(outsider.status).toBe(403);

    const first = await server
      .as('bob')
      .post(`/api/v1/accessrequests/${id}/approve`, { comment: 'looks fine' });
    expect(first.status).toBe(200);
    expect(first.body.status.phase).toBe('Pending');
    expect(await canCreateDeployments()).toBe(false);
    const again = await server.as('bob').post(`/api/v1/accessrequests/${id}/approve`, {});
    expect(again.status).toBe(409);

    const second = await server.as('carol').post(`/api/v1/accessrequests/${id}/approve`, {});
    expect(second.status).toBe(200);
    expect(second.body.status.phase).toBe('Active');
    expect(second.body.status.approvals.map((a: { user: string }) => a.user)).toEqual(['bob', 'carol']);
    await eventually(canCreateDeployments);

    const revoked = await server
      .as('bob')
      .post(`/api/v1/accessrequests/${id}/revoke`, { reason: 'incident over' });
    expect(revoked.body.status.phase).toBe('Revoked');
    await eventually(canCreateDeployments, false);
    // Revoked is final.
    expect((await server.as('bob').post(`/api/v1/accessrequests/${id}/revoke`, {})).status).toBe(409);
  });

  it('takes simultaneous approvals and revocations without losing or doubling any', async () => {
    const ns = await newNamespace();
    const res = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'edit', namespace: ns, duration: '30m' }));
    const id = res.body.metadata.name;
    const approvals = await Promise.all(
      (['bob', 'carol'] as const).map((who) =>
        server.as(who).post(`/api/v1/accessrequests/${id}/approve`, {}),
      ),
    );
    expect(approvals.map((a) => a.status)).toEqual([200, 200]);
    const after = await server.as('alice').get(`/api/v1/accessrequests/${id}`);
    expect(after.body.status.phase).toBe('Active');
    expect(after.body.status.approvals.map((a: { user: string }) => a.user).sort()).toEqual(['bob', 'carol']);

    const revokes = await Promise.all(
      (['alice', 'bob', 'root'] as const).map((who) =>
        server.as(who).post(`/api/v1/accessrequests/${id}/revoke`, {}),
      ),
    );
    expect(revokes.every((r) => r.status === 200 || r.status === 409)).toBe(true);
    expect(await phaseOf(id)).toBe('Revoked');
    const count = async (action: string) =>
      (await auditEvents(server)).filter((e) => e.requestId === id && e.action === action).length;
    expect(await count('ApprovalRecorded')).toBe(2);
    expect(await count('GrantActivated')).toBe(1);
    expect(await count('RevokeRequested')).toBe(1);
    expect(await count('GrantRevoked')).toBe(1);
  });

  it('can be denied or canceled, and then never grants anything', async () => {
    const ns = await newNamespace();
    const a = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'edit', namespace: ns, duration: '5m' }));
    const denied = await server
      .as('carol')
      .post(`/api/v1/accessrequests/${a.body.metadata.name}/deny`, { comment: 'no ticket' });
    expect(denied.body.status.phase).toBe('Denied');
    expect(
      (await server.as('bob').post(`/api/v1/accessrequests/${a.body.metadata.name}/approve`, {})).status,
    ).toBe(409);

    const b = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'edit', namespace: ns, duration: '5m' }));
    expect(
      (await server.as('bob').post(`/api/v1/accessrequests/${b.body.metadata.name}/cancel`, {})).status,
    ).toBe(403);
    const canceled = await server
      .as('alice')
      .post(`/api/v1/accessrequests/${b.body.metadata.name}/cancel`, {});
    expect(canceled.body.status.phase).toBe('Canceled');
    expect(
      (await server.as('alice').post(`/api/v1/accessrequests/${b.body.metadata.name}/cancel`, {})).status,
    ).toBe(409);
    expect(
      await canI(kubeconfig, {
        user: 'alice',
        verb: 'create',
        resource: 'deployments',
        group: 'apps',
        namespace: ns,
      }),
    ).toBe(false);
  });

  it('times out when nobody decides before the deadline', async () => {
    const ns = await newNamespace();
    const res = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'admin', namespace: ns, duration: '5m' }));
    expect(res.body.status.phase).toBe('Pending');
    expect(res.body.status.approvalDeadline).toBeTruthy();
    await waitFor(async () => (await phaseOf(res.body.metadata.name)) === 'TimedOut', { timeoutMs: 10_000 });
    expect(
      (await server.as('bob').post(`/api/v1/accessrequests/${res.body.metadata.name}/approve`, {})).status,
    ).toBe(409);
  });
});

describe('who sees what', () => {
  it('requesters see their own, approvers what they may approve, admins everything', async () => {
    const ns = await newNamespace();
    const mine = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'edit', namespace: ns, duration: '5m' }));
    const id = mine.body.metadata.name;
    const ids = async (who: 'alice' | 'bob' | 'dave' | 'mallory' | 'root') =>
      (await server.as(who).get('/api/v1/accessrequests')).body.items.map(
        (r: { metadata: { name: string } }) => r.metadata.name,
      );

    expect(await ids('alice')).toContain(id);
    expect(await ids('bob')).toContain(id);
    expect(await ids('root')).toContain(id);
    expect(await ids('dave')).not.toContain(id);
    expect(await ids('mallory')).toEqual([]);
    expect((await server.as('mallory').get(`/api/v1/accessrequests/${id}`)).status).toBe(403);
    expect((await server.as('dave').get(`/api/v1/accessrequests/${id}`)).status).toBe(403);
    expect((await server.as('bob').get(`/api/v1/accessrequests/${id}`)).status).toBe(200);
    expect(
      (await server.as('alice').get('/api/v1/accessrequests?phase=Pending')).body.items.every(
        (r: { status: { phase: string } }) => r.status.phase === 'Pending',
      ),
    ).toBe(true);
  });

  it('only admins read the audit trail, and it records every step', async () => {
    // Every step is made here, so this test does not lean on what the tests above happened to leave.
    const ns = await newNamespace();
    const ask = async (role: string, duration: string): Promise<string> =>
      (
        await server
          .as('alice')
          .post('/api/v1/accessrequests', requestBody({ role, namespace: ns, duration }))
      ).body.metadata.name;
    const act = (who: 'alice' | 'bob' | 'carol', id: string, action: string, body = {}) =>
      server.as(who).post(`/api/v1/accessrequests/${id}/${action}`, body);
    const expiring = await ask('view', '2s');
    const revoked = await ask('edit', '5m');
    await act('bob', revoked, 'approve');
    await act('carol', revoked, 'approve');
    await act('bob', revoked, 'revoke', { reason: 'done' });
    const denied = await ask('edit', '5m');
    await act('carol', denied, 'deny');
    const canceled = await ask('edit', '5m');
    await act('alice', canceled, 'cancel');
    const timedOut = await ask('admin', '5m');
    await waitFor(async () => (await phaseOf(expiring)) === 'Expired');
    await waitFor(async () => (await phaseOf(timedOut)) === 'TimedOut');

    expect((await server.as('alice').get('/api/v1/audit/export?format=csv')).status).toBe(403);
    expect((await server.as('bob').get('/api/v1/audit/export?format=jsonl')).status).toBe(403);
    const csv = await server.as('root').get('/api/v1/audit/export?format=csv');
    expect(csv.status).toBe(200);
    expect(csv.contentType).toContain('text/csv');
    const lines = (csv.body as string).trim().split('\r\n');
    expect(lines[0]).toBe('seq,time,actor,action,request,cluster,details,prevHash,hash');
    const lastSeq = Number(lines.at(-1)?.split(',')[0]);
    // Timers may append events between the two exports; compare the part both have.
    const events = (await auditEvents(server)).filter((e) => e.seq <= lastSeq);
    expect(events.length).toBe(lines.length - 1);
    const actionsOf = (id: string) => events.filter((e) => e.requestId === id).map((e) => e.action);
    expect(actionsOf(expiring)).toEqual([
      'RequestCreated',
      'RequestApproved',
      'GrantActivated',
      'GrantExpired',
    ]);
    expect(actionsOf(revoked)).toEqual([
      'RequestCreated',
      'ApprovalRecorded',
      'ApprovalRecorded',
      'RequestApproved',
      'GrantActivated',
      'RevokeRequested',
      'GrantRevoked',
    ]);
    expect(actionsOf(denied)).toEqual(['RequestCreated', 'RequestDenied']);
    expect(actionsOf(canceled)).toEqual(['RequestCreated', 'RequestCanceled']);
    expect(actionsOf(timedOut)).toEqual(['RequestCreated', 'RequestTimedOut']);
    expect((await server.as('root').get('/api/v1/audit/verify')).body).toMatchObject({
      intact: true,
      firstBrokenSeq: null,
    });
  });
});
