import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, requestBody, stateOf } from '../support/elevate.js';
import { freePort } from '../support/free-port.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';
import { type PolicyServer, startPolicyElevate } from '../support/policy-config.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

let server: PolicyServer;
let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
/** Reviews fall due after a second here, on a cluster of its own (two Elevates on one cluster fight). */
let hurried: PolicyServer;
let metricsUrl: string;
let ns: string;
let ns2: string;

const text = (namespace: string, reviewDeadline: string, extra = '') => `
profiles:
  - name: prod-debug
    targets: [{ cluster: dev, namespace: ${namespace}, role: view }]
  - name: prod-admin
    targets: [{ cluster: dev, namespace: ${namespace}, role: admin }]
  - name: not-for-emergencies
    targets: [{ cluster: dev, namespace: ${namespace}, role: edit }]
policies:
  - name: needs-a-ticket
    match: { groups: [devs], roles: [view] }
    decision: auto
    requireTicket: true
breakglass:
  roster: { users: [alice], groups: [sre-leads] }
  profiles: [prod-debug, prod-admin]
  roles: [view]
  maxDuration: 1h
  reviewers: { users: [alice, carol] }
  reviewDeadline: ${reviewDeadline}
  notify: [${webhook.url}/hooks/elevate]
${extra}`;

beforeAll(async () => {
  webhook = await startWebhookReceiver();
  ns = uniqueName('bg');
  ns2 = uniqueName('bg');
  await createNamespace(testKubeconfig('dev'), ns);
  await createNamespace(testKubeconfig('dev2'), ns2);
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  [server, hurried] = await Promise.all([
    startPolicyElevate({ clusters: { dev: elevateKubeconfig('dev') }, policyText: text(ns, '72h') }),
    startPolicyElevate({
      clusters: { dev: elevateKubeconfig('dev2') },
      policyText: text(ns2, '1s', `metrics:\n  listen: 127.0.0.1:${port}\n`),
    }),
  ]);
});

afterAll(async () => {
  await server?.stop();
  await hurried?.stop();
  await webhook?.close();
});

const can = (person: string, namespace = ns, kubeconfig = testKubeconfig('dev')) =>
  canI(kubeconfig, { user: person, verb: 'get', resource: 'pods', namespace });

const pull = (on: PolicyServer, person: Parameters<PolicyServer['as']>[0], body: Record<string, unknown>) =>
  on.as(person).post('/api/v1/breakglass', { reason: 'prod is down', ...body });

describe('break-glass', () => {
  it('a roster member gets access at once, capped to breakglass.maxDuration, with a review opened', async () => {
    expect(await can('bob')).toBe(false);
    const res = await pull(server, 'bob', { profile: 'prod-debug', duration: '3h' });
    expect(res.status).toBe(201);
    expect(res.body.status.phase).toBe('Active');
    expect(await can('bob')).toBe(true);
    expect(res.body.spec.duration).toBe('1h');
    expect(res.body.status.decision.notes).toContain('duration cut from 3h to 1h (breakglass.maxDuration)');
    expect(res.body.status.policy).toBe('breakglass');
    expect(res.body.status.emergency).toMatchObject({
      kind: 'breakglass',
      review: expect.stringMatching(/^rv-/),
    });
    const events = (await auditEvents(server)).filter((e) => e.requestId === res.body.metadata.name);
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining(['RequestCreated', 'BreakGlassActivated', 'ReviewOpened', 'GrantActivated']),
    );
    expect(events.find((e) => e.action === 'BreakGlassActivated').details).toMatchObject({
      severity: 'high',
      reason: 'prod is down',
      review: res.body.status.emergency.review,
    });
    // The notify webhook hears of it at once, from the audit trail.
    const told = await waitFor(() =>
      webhook.received.find(
        (w) => w.body.type === 'BreakGlassActivated' && w.body.requestId === res.body.metadata.name,
      ),
    );
    expect(told.body).toMatchObject({ severity: 'high', actor: 'bob' });
    expect(String(told.body.text)).toMatch(/bob/);
    const review = await server.as('carol').get(`/api/v1/reviews/${res.body.status.emergency.review}`);
    expect(review.body).toMatchObject({ state: 'open', user: 'bob', kind: 'breakglass', overdue: false });
    expect(review.body.accessRequest.metadata.name).toBe(res.body.metadata.name);
    expect(review.body.timeline.map((e: { action: string }) => e.action)).toContain('BreakGlassActivated');
    await server.as('bob').post(`/api/v1/accessrequests/${res.body.metadata.name}/revoke`, {});
  });

  it('expires like any grant: never standing access', async () => {
    const res = await pull(server, 'alice', {
      targets: [{ cluster: 'dev', role: 'view', namespace: ns }],
      duration: '2s',
    });
    expect(res.status).toBe(201);
    expect(await can('alice')).toBe(true);
    await waitFor(async () => !(await can('alice')), { timeoutMs: 15_000 });
    const after = (await server.as('alice').get(`/api/v1/accessrequests/${res.body.metadata.name}`)).body;
    expect(after.status.phase).toBe('Expired');
  });

  it('refuses a stranger, a profile or role not listed for break-glass, and an escalating role; nothing is granted', async () => {
    const before = await stateOf(server);
    const stranger = await pull(server, 'mallory', { profile: 'prod-debug' });
    expect(stranger.status).toBe(403);
    expect(stranger.body.detail).toBe('mallory is not on the break-glass roster (breakglass.roster)');
    const unlisted = await pull(server, 'bob', { profile: 'not-for-emergencies' });
    expect(unlisted.status).toBe(403);
    expect(unlisted.body.detail).toMatch(/not a break-glass profile/);
    const role = await pull(server, 'bob', { targets: [{ cluster: 'dev', role: 'edit', namespace: ns }] });
    expect(role.status).toBe(403);
    expect(role.body.detail).toMatch(/role edit may not be taken by break-glass/);
    const escalating = await pull(server, 'bob', { profile: 'prod-admin' });
    expect(escalating.status).toBe(403);
    expect(escalating.body.detail).toMatch(/admin/);
    expect(await stateOf(server)).toEqual(before);
    expect(await can('mallory')).toBe(false);
  });
});

describe('ticket-system-down mode', () => {
  it('only admins switch it', async () => {
    const res = await server.as('bob').raw('/api/v1/breakglass/mode', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ on: true, for: '1h', reason: 'snow down' }),
    });
    expect(res.status).toBe(403);
  });

  it('waives tickets while on, flags every grant with a review, and switches itself off', async () => {
    const ask = () =>
      server
        .as('alice')
        .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '10m' }));
    expect((await ask()).status).toBe(403);
    const on = await server.as('root').raw('/api/v1/breakglass/mode', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ on: true, for: '3s', reason: 'ServiceNow is down' }),
    });
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ on: true, inForce: true, by: 'root', reason: 'ServiceNow is down' });
    const waived = await ask();
    expect(waived.status).toBe(201);
    expect(waived.body.status.phase).toBe('Active');
    expect(waived.body.status.decision.notes).toContain(
      'ticket requirement of policy needs-a-ticket waived: ticket-system-down mode is on',
    );
    expect(waived.body.status.emergency).toMatchObject({
      kind: 'tickets-waived',
      review: expect.stringMatching(/^rv-/),
    });
    const reviews = (await server.as('carol').get('/api/v1/reviews?state=open')).body.items;
    expect(reviews.map((r: { request: string }) => r.request)).toContain(waived.body.metadata.name);
    await server.as('alice').post(`/api/v1/accessrequests/${waived.body.metadata.name}/revoke`, {});
    // Past its end the mode no longer counts, and the leader records it off.
    await waitFor(
      async () => (await server.as('alice').get('/api/v1/breakglass/mode')).body.inForce === false,
      {
        timeoutMs: 10_000,
      },
    );
    expect((await ask()).status).toBe(403);
    await waitFor(async () => (await auditEvents(server)).some((e) => e.action === 'BreakGlassModeOff'), {
      timeoutMs: 15_000,
    });
    const off = (await auditEvents(server)).find((e) => e.action === 'BreakGlassModeOff');
    expect(off).toMatchObject({ actor: 'system:elevate', details: { reason: 'expired' } });
  });
});

describe('post-incident reviews', () => {
  it('are completed by a reviewer other than the person reviewed, once, and audited', async () => {
    const res = await pull(server, 'alice', { profile: 'prod-debug', duration: '1m' });
    const id = res.body.status.emergency.review;
    const self = await server
      .as('alice')
      .post(`/api/v1/reviews/${id}/complete`, { outcome: 'justified', notes: 'me' });
    expect(self.status).toBe(403);
    expect(self.body.detail).toMatch(/may not review their own emergency access/);
    expect((await server.as('bob').get('/api/v1/reviews')).status).toBe(403);
    const done = await server
      .as('carol')
      .post(`/api/v1/reviews/${id}/complete`, { outcome: 'unjustified', notes: 'no incident was open' });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ state: 'done', outcome: 'unjustified', completedBy: 'carol' });
    const again = await server
      .as('carol')
      .post(`/api/v1/reviews/${id}/complete`, { outcome: 'justified', notes: 'x' });
    expect(again.status).toBe(409);
    const completed = (await auditEvents(server)).find(
      (e) => e.action === 'ReviewCompleted' && e.details.review === id,
    );
    expect(completed).toMatchObject({
      actor: 'carol',
      details: { outcome: 'unjustified', notes: 'no incident was open' },
    });
    const doneList = (await server.as('carol').get('/api/v1/reviews?state=done')).body.items;
    expect(doneList.map((r: { id: string }) => r.id)).toContain(id);
    await server.as('alice').post(`/api/v1/accessrequests/${res.body.metadata.name}/revoke`, {});
  });

  it('open past the deadline: flagged in the list, counted in /metrics, announced once', async () => {
    const res = await pull(hurried, 'bob', {
      targets: [{ cluster: 'dev', role: 'view', namespace: ns2 }],
      duration: '1m',
    });
    expect(res.status).toBe(201);
    expect(await can('bob', ns2, testKubeconfig('dev2'))).toBe(true);
    const id = res.body.status.emergency.review;
    await waitFor(async () =>
      (await hurried.as('carol').get('/api/v1/reviews')).body.items.some(
        (r: { id: string; overdue: boolean }) => r.id === id && r.overdue,
      ),
    );
    await waitFor(async () => /^elevate_reviews_overdue 1$/m.test(await (await fetch(metricsUrl)).text()));
    await waitFor(
      async () =>
        (await auditEvents(hurried)).some((e) => e.action === 'ReviewOverdue' && e.details.review === id),
      {
        timeoutMs: 15_000,
      },
    );
    // Several more passes of the leader's watch (every second) go by: still one notice.
    await new Promise((r) => setTimeout(r, 2500));
    const notices = (await auditEvents(hurried)).filter(
      (e) => e.action === 'ReviewOverdue' && e.details.review === id,
    );
    expect(notices).toHaveLength(1);
    await hurried.as('bob').post(`/api/v1/accessrequests/${res.body.metadata.name}/revoke`, {});
  });
});
