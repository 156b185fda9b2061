import { readFileSync } from 'node:fs';
import type * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeElevate, createLogger } from '../../src/composition-root.js';
import { parseConfig } from '../../src/config/load-config.js';
import {
  apiFor,
  auditEvents,
  expectCreateRefused,
  type RunningElevate,
  requestBody,
  startElevate,
  stateOf,
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

let stopped = false;
/** Stops the file's server once: the restart test below must be the only Elevate on the cluster. */
async function stopServer(): Promise<void> {
  if (!stopped) await server?.stop();
  stopped = true;
}

afterAll(stopServer);

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

// Most tests below wait for a start or an expiry a few seconds away, each in its own namespace with its
// own requests: they wait side by side (it.concurrent) instead of one after another. The ones that compare
// the server's whole state before and after (stateOf) run first, on their own.
describe('scheduled start', () => {
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
      // Refused before anything is judged: not even a Denied record, no audit event.
      const before = await stateOf(server);
      const res = await server.as('alice').post('/api/v1/accessrequests', { spec });
      expect(res.status).toBe(403);
      expect(res.contentType).toContain('application/problem+json');
      expect(res.body.detail).toMatch(detail);
      expect(res.body.field).toBe('spec.startTime');
      expect(res.body.request).toBeUndefined();
      expect(await stateOf(server)).toEqual(before);
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

  it.concurrent('writes no binding before the start; at the start the grant is Active and its duration counts from then', async () => {
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

  it.concurrent('a start within the last minute means now', async () => {
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

  it.concurrent('a Scheduled request can be canceled by its requester, or revoked, and never gets a binding', async () => {
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

  it.concurrent('a request still Pending at its start starts when approved, its duration counted from then', async () => {
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

  it.concurrent('an approval before the start leaves the request Scheduled until then', async () => {
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

  it.concurrent('a binding carrying a Scheduled request’s label before its start is removed as forged', async () => {
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

/** Asks the API server over and over until stopped; every answer is kept. */
function pollAccess(check: () => Promise<boolean>) {
  const answers: { at: number; allowed: boolean }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      answers.push({ at: Date.now(), allowed: await check() });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    answers,
    async stop() {
      running = false;
      await loop;
      return answers;
    },
  };
}

const sleepUntil = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms - Date.now())));

async function readBinding(ns: string, id: string) {
  return rbac.readNamespacedRoleBinding({ name: `elevate-${id}`, namespace: ns });
}

/** alice's Active `edit` grant in a fresh namespace, approved by bob and carol (policy edit-needs-two). */
async function activeEditGrant(duration: string) {
  const ns = await newNamespace();
  const res = await server
    .as('alice')
    .post('/api/v1/accessrequests', requestBody({ role: 'edit', namespace: ns, duration }));
  const id: string = res.body.metadata.name;
  await server.as('bob').post(`/api/v1/accessrequests/${id}/approve`);
  const active = (await server.as('carol').post(`/api/v1/accessrequests/${id}/approve`)).body;
  expect(active.status.phase).toBe('Active');
  await eventually(() => canGetPods(ns));
  return { ns, id, expiresAt: Date.parse(active.status.grant.expiresAt) };
}

describe('extension', () => {
  it.concurrent('one the policy approves by itself moves the expiry in place: same binding, no moment without access', async () => {
    const ns = await newNamespace();
    const res = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '5s' }));
    const id: string = res.body.metadata.name;
    const originalExpiry = Date.parse(res.body.status.grant.expiresAt);
    await eventually(() => canGetPods(ns));
    const before = await readBinding(ns, id);
    const poll = pollAccess(() => canGetPods(ns));

    await new Promise((r) => setTimeout(r, 1500));
    const extended = await server
      .as('alice')
      .post(`/api/v1/accessrequests/${id}/extend`, { by: '6s', reason: 'not done' });
    expect(extended.status).toBe(200);
    expect(extended.body.status.phase).toBe('Active');
    expect(extended.body.status.extensions).toMatchObject([
      {
        id: 1,
        by: '6s',
        reason: 'not done',
        requestedBy: 'alice',
        state: 'Approved',
        policy: 'view-auto',
        requiredApprovals: 0,
      },
    ]);
    const newExpiry = Date.parse(extended.body.status.grant.expiresAt);
    expect(newExpiry - originalExpiry).toBe(6000);

    const after = await readBinding(ns, id);
    expect(after.metadata?.uid).toBe(before.metadata?.uid);
    expect(after.metadata?.creationTimestamp).toEqual(before.metadata?.creationTimestamp);
    expect(after.metadata?.annotations?.['elevate.dev/expires-at']).toBe(new Date(newExpiry).toISOString());

    // Well past the original expiry: access never dropped, and it is the same binding.
    await sleepUntil(originalExpiry + 1500);
    const answers = await poll.stop();
    expect(answers.length).toBeGreaterThan(20);
    expect(answers.filter((a) => !a.allowed)).toEqual([]);
    expect((await get(id)).status.phase).toBe('Active');
    expect((await readBinding(ns, id)).metadata?.uid).toBe(before.metadata?.uid);

    await waitFor(async () => (await get(id)).status.phase === 'Expired', { timeoutMs: 15_000 });
    const expiredAt = Date.now();
    expect(expiredAt).toBeGreaterThanOrEqual(newExpiry);
    await eventually(() => canGetPods(ns), false);
    const events = (await auditEvents(server)).filter((e) => e.requestId === id);
    expect(events.map((e) => e.action)).toEqual([
      'RequestCreated',
      'RequestApproved',
      'GrantActivated',
      'ExtensionRequested',
      'ExtensionApproved',
      'GrantExtended',
      'GrantExpired',
    ]);
    expect(events.find((e) => e.action === 'GrantExtended').details).toMatchObject({
      extension: 1,
      from: new Date(originalExpiry).toISOString(),
      to: new Date(newExpiry).toISOString(),
    });
  });

  it.concurrent('one needing approval waits for its own quorum while access continues; approved, the expiry moves', async () => {
    const { ns, id, expiresAt: originalExpiry } = await activeEditGrant('6s');
    const before = await readBinding(ns, id);
    const poll = pollAccess(() => canGetPods(ns));

    const asked = await server.as('alice').post(`/api/v1/accessrequests/${id}/extend`, { by: '8s' });
    expect(asked.status).toBe(200);
    expect(asked.body.status.extensions[0]).toMatchObject({
      state: 'Pending',
      policy: 'edit-needs-two',
      requiredApprovals: 2,
    });
    expect(Date.parse(asked.body.status.grant.expiresAt)).toBe(originalExpiry);
    // A second while the first waits, the requester approving her own, someone the policy does not name.
    expect((await server.as('alice').post(`/api/v1/accessrequests/${id}/extend`, { by: '1m' })).status).toBe(
      409,
    );
    expect((await server.as('alice').post(`/api/v1/accessrequests/${id}/extension/approve`)).status).toBe(
      403,
    );
    expect((await server.as('dave').post(`/api/v1/accessrequests/${id}/extension/approve`)).status).toBe(403);

    const once = await server
      .as('bob')
      .post(`/api/v1/accessrequests/${id}/extension/approve`, { comment: 'ok' });
    expect(once.status).toBe(200);
    expect(once.body.status.extensions[0].state).toBe('Pending');
    expect(Date.parse(once.body.status.grant.expiresAt)).toBe(originalExpiry);
    const approved = await server.as('carol').post(`/api/v1/accessrequests/${id}/extension/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body.status.extensions[0].state).toBe('Approved');
    const newExpiry = Date.parse(approved.body.status.grant.expiresAt);
    expect(newExpiry - originalExpiry).toBe(8000);

    await sleepUntil(originalExpiry + 1500);
    const answers = await poll.stop();
    expect(answers.filter((a) => !a.allowed)).toEqual([]);
    expect((await readBinding(ns, id)).metadata?.uid).toBe(before.metadata?.uid);
    expect((await get(id)).status.phase).toBe('Active');
    const actions = await actionsOf(id);
    expect(actions.slice(-5)).toEqual([
      'ExtensionRequested',
      'ExtensionApprovalRecorded',
      'ExtensionApprovalRecorded',
      'ExtensionApproved',
      'GrantExtended',
    ]);
    await server.as('alice').post(`/api/v1/accessrequests/${id}/revoke`);
  });

  it.concurrent('one not approved before the grant ends lapses, and the grant expires at its original time', async () => {
    const { ns, id, expiresAt } = await activeEditGrant('4s');
    await server.as('alice').post(`/api/v1/accessrequests/${id}/extend`, { by: '1m' });
    await server.as('bob').post(`/api/v1/accessrequests/${id}/extension/approve`);
    const expired = await waitFor(async () => {
      const r = await get(id);
      return r.status.phase === 'Expired' ? r : null;
    });
    expect(Date.parse(expired.status.grant.expiresAt)).toBe(expiresAt);
    expect(expired.status.extensions[0]).toMatchObject({ state: 'Lapsed' });
    await eventually(() => canGetPods(ns), false);
    // The last approval, too late: refused, and nothing comes back.
    expect((await server.as('carol').post(`/api/v1/accessrequests/${id}/extension/approve`)).status).toBe(
      409,
    );
    expect(await bindingExists(ns, id)).toBe(false);
    expect((await actionsOf(id)).slice(-2)).toEqual(['GrantExpired', 'ExtensionLapsed']);
  });

  it.concurrent('one pending at a revocation lapses with it', async () => {
    const { id } = await activeEditGrant('1m');
    await server.as('alice').post(`/api/v1/accessrequests/${id}/extend`, { by: '30m', reason: 'more' });
    const revoked = (await server.as('bob').post(`/api/v1/accessrequests/${id}/revoke`)).body;
    expect(revoked.status.phase).toBe('Revoked');
    expect(revoked.status.extensions[0].state).toBe('Lapsed');
    expect((await actionsOf(id)).slice(-2)).toEqual(['GrantRevoked', 'ExtensionLapsed']);
  });

  it.concurrent('a denial ends it and access goes on until the original expiry', async () => {
    const { id, expiresAt } = await activeEditGrant('1m');
    await server.as('alice').post(`/api/v1/accessrequests/${id}/extend`, { by: '30m' });
    const denied = await server
      .as('bob')
      .post(`/api/v1/accessrequests/${id}/extension/deny`, { comment: 'no' });
    expect(denied.status).toBe(200);
    expect(denied.body.status.phase).toBe('Active');
    expect(denied.body.status.extensions[0]).toMatchObject({ state: 'Denied' });
    expect(Date.parse(denied.body.status.grant.expiresAt)).toBe(expiresAt);
    expect((await actionsOf(id)).at(-1)).toBe('ExtensionDenied');
    await server.as('alice').post(`/api/v1/accessrequests/${id}/revoke`);
  });

  it.concurrent('is refused on anything but an Active grant (409), by others than the requester (403), and over maxDuration (403)', async () => {
    const ns = await newNamespace();
    const pending = (
      await server
        .as('alice')
        .post('/api/v1/accessrequests', requestBody({ role: 'edit', namespace: ns, duration: '1m' }))
    ).body.metadata.name;
    expect(
      (await server.as('alice').post(`/api/v1/accessrequests/${pending}/extend`, { by: '1m' })).status,
    ).toBe(409);
    const grant = (
      await server
        .as('alice')
        .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '1h' }))
    ).body.metadata.name;
    expect((await server.as('bob').post(`/api/v1/accessrequests/${grant}/extend`, { by: '1m' })).status).toBe(
      403,
    );
    const tooLong = await server.as('alice').post(`/api/v1/accessrequests/${grant}/extend`, { by: '7h1m' });
    expect(tooLong.status).toBe(403);
    expect(tooLong.body.detail).toMatch(/maximum 8h/);
    expect((await server.as('alice').post(`/api/v1/accessrequests/${grant}/extension/approve`)).status).toBe(
      409,
    );
    expect(
      (await server.as('alice').post(`/api/v1/accessrequests/${grant}/extend`, { by: 'soon' })).status,
    ).toBe(400);
    expect(
      (await server.as('root').post(`/api/v1/accessrequests/${grant}/extend`, { by: '7h' })).status,
    ).toBe(200);
    expect((await get(grant)).status.extensions).toMatchObject([{ requestedBy: 'root', state: 'Approved' }]);
    await server.as('alice').post(`/api/v1/accessrequests/${grant}/revoke`);
    await server.as('alice').post(`/api/v1/accessrequests/${pending}/cancel`);
  });
});

describe('scheduled start across a restart', () => {
  // Another Elevate on dev, with a database of its own, would take this test's binding for an orphan (its
  // drift repair removes bindings no request of its own stands behind) and delete it.
  beforeAll(stopServer);

  it('a start that falls due while the server is down is caught up at once on start', async () => {
    const first = await startElevate({ clusters: { dev: elevateKubeconfig('dev') } });
    const ns = await newNamespace();
    const start = secondsFromNow(2);
    const res = await first
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ role: 'view', namespace: ns, duration: '1m', startTime: start }),
      );
    const id: string = res.body.metadata.name;
    expect(res.body.status.phase).toBe('Scheduled');
    await first.stop();
    await sleepUntil(Date.parse(start) + 1500);
    expect(await bindingExists(ns, id)).toBe(false);

    // The same config and database, started again: its catch-up activates the overdue start before ready.
    const config = parseConfig(readFileSync(first.configFile, 'utf8'), first.configFile);
    const again = await composeElevate(config, createLogger('silent'));
    const url = await again.start();
    try {
      const r = (await apiFor(url, 'token-root').get(`/api/v1/accessrequests/${id}`)).body;
      expect(r.status.phase).toBe('Active');
      expect(Date.parse(r.status.grant.activatedAt)).toBeGreaterThan(Date.parse(start));
      expect(await bindingExists(ns, id)).toBe(true);
      await apiFor(url, 'token-alice').post(`/api/v1/accessrequests/${id}/revoke`);
    } finally {
      await again.stop();
    }
  });
});
