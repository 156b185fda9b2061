import type * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditEvents,
  expectCreateRefused,
  type RunningElevate,
  requestBody,
  startElevate,
} from '../support/elevate.js';
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
  const ns = uniqueName('sched');
  await createNamespace(kubeconfig, ns);
  return ns;
}

const canGetPods = (namespace: string) =>
  canI(kubeconfig, { user: 'alice', verb: 'get', resource: 'pods', namespace });

/** RBAC's authorizer follows a binding's creation or deletion a little later: wait for the answer. */
const eventually = (check: () => Promise<boolean>, expected = true) =>
  waitFor(async () => (await check()) === expected);

const secondsFromNow = (s: number) => new Date(Date.now() + s * 1000).toISOString();

async function get(id: string) {
  return (await server.as('root').get(`/api/v1/accessrequests/${id}`)).body;
}

async function bindingExists(ns: string, id: string): Promise<boolean> {
  return rbac
    .readNamespacedRoleBinding({ name: `elevate-${id}`, namespace: ns })
    .then(() => true)
    .catch(() => false);
}

async function actionsOf(id: string): Promise<string[]> {
  return (await auditEvents(server)).filter((e) => e.requestId === id).map((e) => e.action);
}

function grantedCondition(resource: {
  status: { conditions: { type: string; status: string; reason: string }[] };
}) {
  const c = resource.status.conditions.find((x) => x.type === 'Granted');
  return `${c?.status}/${c?.reason}`;
}

describe('scheduled start', () => {
  it('writes no binding before the start; at the start the grant is Active and its duration counts from then', async () => {
    const ns = await newNamespace();
    const start = secondsFromNow(4);
    const res = await server
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ role: 'view', namespace: ns, duration: '5s', startTime: start }),
      );
    expect(res.status).toBe(201);
    const id: string = res.body.metadata.name;
    expect(res.body.status.phase).toBe('Scheduled');
    expect(res.body.spec.startTime).toBe(new Date(start).toISOString());
    expect(grantedCondition(res.body)).toBe('False/Scheduled');
    expect(res.body.status.grant).toBeNull();

    // Until the start: no binding, no access.
    while (Date.now() < Date.parse(start) - 300) {
      expect(await bindingExists(ns, id)).toBe(false);
      expect(await canGetPods(ns)).toBe(false);
      await new Promise((r) => setTimeout(r, 250));
    }
    const active = await waitFor(async () => {
      const r = await get(id);
      return r.status.phase === 'Active' ? r : null;
    });
    const activatedAt = Date.parse(active.status.grant.activatedAt);
    expect(activatedAt).toBeGreaterThanOrEqual(Date.parse(start));
    expect(activatedAt - Date.parse(start)).toBeLessThan(2000);
    expect(Date.parse(active.status.grant.expiresAt) - activatedAt).toBe(5000);
    expect(grantedCondition(active)).toBe('True/BindingPresent');
    expect(await bindingExists(ns, id)).toBe(true);
    await eventually(() => canGetPods(ns));

    await waitFor(async () => (await get(id)).status.phase === 'Expired', { timeoutMs: 15_000 });
    await eventually(() => canGetPods(ns), false);
    const actions = await actionsOf(id);
    expect(actions).toEqual([
      'RequestCreated',
      'RequestApproved',
      'GrantScheduled',
      'GrantActivated',
      'GrantExpired',
    ]);
  });

  it.each([
    ['more than a minute in the past', -120, /in the past/],
    ['beyond limits.maxScheduleAhead (7 days)', 7 * 86_400 + 3600, /ahead \(limits\.maxScheduleAhead\)/],
  ])('refuses a start %s, naming spec.startTime, and creates nothing', async (_what, offset, detail) => {
    const ns = await newNamespace();
    const grant = { duration: '1m', reason: 'later', startTime: secondsFromNow(offset) };
    for (const spec of [
      { cluster: 'dev', role: 'view', namespace: ns, ...grant },
      { targets: [{ cluster: 'dev', role: 'view', namespace: ns }], ...grant },
    ]) {
      await expectCreateRefused(server, { spec }, { status: 403, detail, field: 'spec.startTime' });
    }
  });

  it('refuses a start that is not RFC 3339 with an offset (400)', async () => {
    const ns = await newNamespace();
    for (const startTime of ['tomorrow', '2030-01-01T10:00:00', '2030-01-01']) {
      await expectCreateRefused(
        server,
        requestBody({ role: 'view', namespace: ns, duration: '1m', startTime }),
        { status: 400, detail: /./ },
      );
    }
  });

  it('a start within the last minute means now', async () => {
    const ns = await newNamespace();
    const res = await server
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ role: 'view', namespace: ns, duration: '1m', startTime: secondsFromNow(-30) }),
      );
    expect(res.status).toBe(201);
    expect(res.body.status.phase).toBe('Active');
    await server.as('alice').post(`/api/v1/accessrequests/${res.body.metadata.name}/revoke`);
  });

  it('a Scheduled request can be canceled by its requester, or revoked, and never gets a binding', async () => {
    const ns = await newNamespace();
    const make = async () => {
      const res = await server
        .as('alice')
        .post(
          '/api/v1/accessrequests',
          requestBody({ role: 'view', namespace: ns, duration: '1m', startTime: secondsFromNow(3) }),
        );
      expect(res.body.status.phase).toBe('Scheduled');
      return res.body.metadata.name as string;
    };
    const canceledId = await make();
    const revokedId = await make();
    expect((await server.as('mallory').post(`/api/v1/accessrequests/${canceledId}/cancel`)).status).toBe(403);
    const canceled = await server.as('alice').post(`/api/v1/accessrequests/${canceledId}/cancel`);
    expect(canceled.status).toBe(200);
    expect(canceled.body.status.phase).toBe('Canceled');
    const revoked = await server
      .as('root')
      .post(`/api/v1/accessrequests/${revokedId}/revoke`, { reason: 'not needed' });
    expect(revoked.status).toBe(200);
    expect(revoked.body.status.phase).toBe('Revoked');
    // Past the start: the timers fired for neither, and neither has a binding.
    await new Promise((r) => setTimeout(r, 4000));
    for (const id of [canceledId, revokedId]) expect(await bindingExists(ns, id)).toBe(false);
    expect((await get(canceledId)).status.phase).toBe('Canceled');
    expect((await get(revokedId)).status.phase).toBe('Revoked');
    expect(await actionsOf(canceledId)).toEqual([
      'RequestCreated',
      'RequestApproved',
      'GrantScheduled',
      'RequestCanceled',
    ]);
    expect(await actionsOf(revokedId)).toEqual([
      'RequestCreated',
      'RequestApproved',
      'GrantScheduled',
      'RevokeRequested',
      'GrantRevoked',
    ]);
    expect(await canGetPods(ns)).toBe(false);
  });

  it('a request still Pending at its start starts when approved, its duration counted from then', async () => {
    const ns = await newNamespace();
    const res = await server
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ role: 'edit', namespace: ns, duration: '1m', startTime: secondsFromNow(1) }),
      );
    expect(res.body.status.phase).toBe('Pending');
    const id: string = res.body.metadata.name;
    await new Promise((r) => setTimeout(r, 1500));
    expect((await get(id)).status.phase).toBe('Pending');
    await server.as('bob').post(`/api/v1/accessrequests/${id}/approve`);
    const approvedAt = Date.now();
    const active = (await server.as('carol').post(`/api/v1/accessrequests/${id}/approve`)).body;
    expect(active.status.phase).toBe('Active');
    const activatedAt = Date.parse(active.status.grant.activatedAt);
    expect(activatedAt).toBeGreaterThanOrEqual(approvedAt - 50);
    expect(Date.parse(active.status.grant.expiresAt) - activatedAt).toBe(60_000);
    await server.as('alice').post(`/api/v1/accessrequests/${id}/revoke`);
  });

  it('an approval before the start leaves the request Scheduled until then', async () => {
    const ns = await newNamespace();
    const start = secondsFromNow(4);
    const res = await server
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ role: 'edit', namespace: ns, duration: '1m', startTime: start }),
      );
    const id: string = res.body.metadata.name;
    await server.as('bob').post(`/api/v1/accessrequests/${id}/approve`);
    const approved = (await server.as('carol').post(`/api/v1/accessrequests/${id}/approve`)).body;
    expect(approved.status.phase).toBe('Scheduled');
    expect(await bindingExists(ns, id)).toBe(false);
    const active = await waitFor(async () => {
      const r = await get(id);
      return r.status.phase === 'Active' ? r : null;
    });
    expect(Date.parse(active.status.grant.activatedAt)).toBeGreaterThanOrEqual(Date.parse(start));
    await server.as('alice').post(`/api/v1/accessrequests/${id}/revoke`);
  });

  it('a binding carrying a Scheduled request’s label before its start is removed as forged', async () => {
    const ns = await newNamespace();
    const res = await server
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ role: 'view', namespace: ns, duration: '1m', startTime: secondsFromNow(600) }),
      );
    const id: string = res.body.metadata.name;
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: {
          name: `elevate-${id}`,
          labels: { 'app.kubernetes.io/managed-by': 'elevate', 'elevate.dev/request': id },
        },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }],
      },
    });
    await waitFor(async () => !(await bindingExists(ns, id)));
    await waitFor(async () =>
      (await auditEvents(server)).some((e) => e.requestId === id && e.action === 'ForgedBindingRemoved'),
    );
    expect((await get(id)).status.phase).toBe('Scheduled');
    await server.as('alice').post(`/api/v1/accessrequests/${id}/cancel`);
  });
});
