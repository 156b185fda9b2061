import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signCallback } from '../../src/services/ticket-callback.js';
import { apiFor, auditEvents, requestBody } from '../support/elevate.js';
import { type JiraStandIn, startJira } from '../support/jira-server.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';
import { type PolicyServer, startPolicyElevate } from '../support/policy-config.js';
import { type ServiceNowStandIn, startServiceNow } from '../support/servicenow-server.js';

const callbackSecret = 'a-long-shared-callback-secret';
const dir = mkdtempSync(join(tmpdir(), 'elevate-ticket-it-'));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

let snow: ServiceNowStandIn;
let jira: JiraStandIn;
/** Re-checks every second. */
let fast: PolicyServer;
/** Re-checks hourly: only a callback ends a grant quickly here. */
let slow: PolicyServer;
/** Each server has a cluster of its own: two Elevates on one cluster would remove each other's bindings. */
const clusterOf = new Map<PolicyServer, string>();

function policyText(recheck: string): string {
  return `
tickets:
  recheckInterval: ${recheck}
  timeout: 1s
  providers:
    - name: snow
      type: servicenow
      url: ${snow.url}
      auth: { type: basic, username: elevate, passwordFile: ${file('snow-pw', 'pw\n')} }
      callbackSecretFile: ${file('snow-cb', `${callbackSecret}\n`)}
    - name: jira
      type: jira
      url: ${jira.url}
      auth: { type: basic, username: bot@example.com, passwordFile: ${file('jira-tok', 'tok')} }
policies:
  - name: incident-view
    match: { groups: [devs], namespaces: ['tk-*'], roles: [view] }
    decision: auto
    maxDuration: 2h
    requireTicket: { provider: snow, pattern: '^(INC|CHG)', assignedToRequester: true }
  - name: jira-edit
    match: { groups: [devs], namespaces: ['tj-*'], roles: [edit] }
    decision: auto
    maxDuration: 2h
    allowEscalatingRoles: [edit]
    requireTicket: { provider: jira }
`;
}

beforeAll(async () => {
  snow = await startServiceNow({ username: 'elevate', password: 'pw' });
  jira = await startJira({ email: 'bot@example.com', apiToken: 'tok' });
  [fast, slow] = await Promise.all([
    startPolicyElevate({ clusters: { dev: elevateKubeconfig('dev2') }, policyText: policyText('1s') }),
    startPolicyElevate({ clusters: { dev: elevateKubeconfig('dev') }, policyText: policyText('1h') }),
  ]);
  clusterOf.set(fast, testKubeconfig('dev2'));
  clusterOf.set(slow, testKubeconfig('dev'));
});

afterAll(async () => {
  await fast?.stop();
  await slow?.stop();
  await snow?.close();
  await jira?.close();
});

let n = 0;
/** A namespace in the server's cluster. */
async function namespaceOn(on: PolicyServer, prefix: string): Promise<string> {
  const ns = uniqueName(prefix);
  await createNamespace(clusterOf.get(on) as string, ns);
  return ns;
}

/** A fresh incident number, and a namespace for it in the server's cluster. */
async function incident(on: PolicyServer, assignee: string | null = 'alice', state = '2') {
  const number = `INC${String(1_000_000 + ++n).padStart(7, '0')}`;
  snow.set({ number, state, assignedToEmail: assignee });
  return { number, ns: await namespaceOn(on, 'tk') };
}

const ask = (on: PolicyServer, ns: string, ticket: string, extra: Record<string, unknown> = {}) =>
  on
    .as('alice')
    .post(
      '/api/v1/accessrequests',
      requestBody({ role: 'view', namespace: ns, ticket, duration: '1h', ...extra }),
    );

const aliceCan = (on: PolicyServer, ns: string) =>
  canI(clusterOf.get(on) as string, { user: 'alice', verb: 'get', resource: 'pods', namespace: ns });

describe('a ticket checked with its system when access is asked for', () => {
  it.each([
    ['resolved', 'alice', '6', /ticket INC\d+ in snow is not open \(Resolved \(state 6\)\)/],
    ['closed', 'alice', '7', /is not open \(Closed \(state 7\)\)/],
    ['assigned to someone else', 'bob', '2', /is assigned to bob, not to alice/],
    ['assigned to nobody', null, '2', /is assigned to nobody, not to alice/],
  ])('refuses an incident %s, naming it, and records the attempt', async (_what, assignee, state, detail) => {
    const { number, ns } = await incident(fast, assignee, state);
    const res = await ask(fast, ns, number);
    expect(res.status).toBe(403);
    expect(res.body.field).toBe('spec.ticket');
    expect(res.body.detail).toMatch(detail);
    const recorded = (await fast.as('root').get(`/api/v1/accessrequests/${res.body.request}`)).body;
    expect(recorded.status.phase).toBe('Denied');
    expect(recorded.status.ticket).toMatchObject({ provider: 'snow', id: number, valid: false });
    expect(await aliceCan(fast, ns)).toBe(false);
  });

  it('refuses an incident the system does not have', async () => {
    const ns = await namespaceOn(fast, 'tk');
    const res = await ask(fast, ns, 'INC0999999');
    expect(res.status).toBe(403);
    expect(res.body.detail).toMatch(/ticket INC0999999 in snow does not exist/);
  });

  it('refuses a change request outside its planned window', async () => {
    const ns = await namespaceOn(fast, 'tk');
    const now = Date.now();
    snow.set({
      number: 'CHG0000101',
      state: '-1',
      assignedToEmail: 'alice',
      startDate: new Date(now + 3_600_000),
      endDate: new Date(now + 7_200_000),
    });
    const early = await ask(fast, ns, 'CHG0000101');
    expect(early.status).toBe(403);
    expect(early.body.detail).toMatch(/is not in its window yet/);
    snow.set({
      number: 'CHG0000102',
      state: '-1',
      assignedToEmail: 'alice',
      startDate: new Date(now - 7_200_000),
      endDate: new Date(now - 60_000),
    });
    expect((await ask(fast, ns, 'CHG0000102')).body.detail).toMatch(/window ended/);
  });

  it('grants with an open, assigned incident and shows the ticket on the request', async () => {
    const { number, ns } = await incident(slow);
    const res = await ask(slow, ns, number);
    expect(res.status).toBe(201);
    expect(res.body.status.phase).toBe('Active');
    expect(res.body.status.ticket).toMatchObject({
      provider: 'snow',
      id: number,
      valid: true,
      status: 'Open (state 2)',
      notAfter: null,
    });
    expect(await aliceCan(slow, ns)).toBe(true);
    const events = await auditEvents(slow);
    expect(
      events.find((e) => e.action === 'TicketValidated' && e.requestId === res.body.metadata.name),
    ).toBeDefined();
    await slow.as('alice').post(`/api/v1/accessrequests/${res.body.metadata.name}/revoke`, {});
  });

  it('cuts the grant to end with its change request, and says so', async () => {
    const ns = await namespaceOn(slow, 'tk');
    const endDate = new Date(Math.floor((Date.now() + 30 * 60_000) / 1000) * 1000);
    snow.set({
      number: 'CHG0000103',
      state: '-1',
      assignedToEmail: 'alice',
      startDate: new Date(Date.now() - 60_000),
      endDate,
    });
    const res = await ask(slow, ns, 'CHG0000103');
    expect(res.status).toBe(201);
    expect(res.body.status.decision.notes.join(' ')).toMatch(
      /duration cut from 1h to (29m\d+s|30m): ticket CHG0000103 window ends/,
    );
    expect(Date.parse(res.body.status.grant.expiresAt)).toBeLessThanOrEqual(endDate.getTime());
    expect(res.body.status.ticket.notAfter).toBe(endDate.toISOString());
    await slow.as('alice').post(`/api/v1/accessrequests/${res.body.metadata.name}/revoke`, {});
  });

  it('Jira: an issue whose status category is done refuses; an open one grants', async () => {
    const ns = await namespaceOn(slow, 'tj');
    jira.set({ key: 'OPS-7', status: 'Done', category: 'done' });
    const body = (ticket: string) => requestBody({ role: 'edit', namespace: ns, ticket, duration: '10m' });
    const refused = await slow.as('alice').post('/api/v1/accessrequests', body('OPS-7'));
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toMatch(/ticket OPS-7 in jira is not open \(Done\)/);
    jira.set({ key: 'OPS-8', status: 'In Progress', category: 'indeterminate' });
    const granted = await slow.as('alice').post('/api/v1/accessrequests', body('OPS-8'));
    expect(granted.status).toBe(201);
    await slow.as('alice').post(`/api/v1/accessrequests/${granted.body.metadata.name}/revoke`, {});
  });
});

describe('a ticket checked again while access lasts', () => {
  it('resolving the incident ends the grant within a re-check interval', async () => {
    const { number, ns } = await incident(fast);
    const res = await ask(fast, ns, number);
    expect(res.body.status.phase).toBe('Active');
    expect(await aliceCan(fast, ns)).toBe(true);
    snow.set({ number, state: '6', assignedToEmail: 'alice' });
    await waitFor(async () => !(await aliceCan(fast, ns)), { timeoutMs: 10_000 });
    const after = (await fast.as('alice').get(`/api/v1/accessrequests/${res.body.metadata.name}`)).body;
    expect(after.status.phase).toBe('Revoked');
    expect(after.status.revocation.by).toBe('system:elevate');
    expect(after.status.ticket).toMatchObject({ valid: false, status: 'Resolved (state 6)' });
    const invalidated = (await auditEvents(fast)).find(
      (e) => e.action === 'TicketInvalidated' && e.requestId === res.body.metadata.name,
    );
    expect(invalidated.details).toMatchObject({
      provider: 'snow',
      ticket: number,
      was: 'Open (state 2)',
      now: 'Resolved (state 6)',
    });
  });

  it('reassigning the incident away from the requester ends the grant', async () => {
    const { number, ns } = await incident(fast);
    await ask(fast, ns, number);
    expect(await aliceCan(fast, ns)).toBe(true);
    snow.set({ number, state: '2', assignedToEmail: 'carol' });
    await waitFor(async () => !(await aliceCan(fast, ns)), { timeoutMs: 10_000 });
  });

  it('a signed callback ends the grant at once, without waiting for the re-check', async () => {
    const { number, ns } = await incident(slow);
    const res = await ask(slow, ns, number);
    expect(await aliceCan(slow, ns)).toBe(true);
    snow.set({ number, state: '7', active: false, assignedToEmail: 'alice' });
    const call = await callback(slow, { provider: 'snow', ticket: number, event: 'closed' });
    expect(call.status).toBe(202);
    expect(call.body).toEqual({ checked: 1, revoked: [res.body.metadata.name], unavailable: [] });
    // The grant is gone when the call answers.
    expect(await aliceCan(slow, ns)).toBe(false);
  });

  it('refuses forged, unsigned, stale and replayed callbacks, and audits them', async () => {
    const body = { provider: 'snow', ticket: 'INC0000001' };
    expect((await callback(slow, body, { secret: 'not-the-secret-at-all' })).status).toBe(401);
    expect((await callback(slow, body, { unsigned: true })).status).toBe(401);
    expect((await callback(slow, { ...body, provider: 'jira' })).status).toBe(401);
    const stale = await callback(slow, body, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(401);
    expect(stale.body.detail).toMatch(/more than 5 minutes/);
    const timestamp = Math.floor(Date.now() / 1000);
    expect((await callback(slow, body, { timestamp })).status).toBe(202);
    const replay = await callback(slow, body, { timestamp });
    expect(replay.status).toBe(409);
    const refused = (await auditEvents(slow)).filter((e) => e.action === 'TicketCallbackRefused');
    expect(refused.map((e) => e.details.why)).toEqual(
      expect.arrayContaining(['bad signature', 'unsigned', 'stale timestamp', 'replayed']),
    );
  });
});

describe('a ticket system that cannot answer', () => {
  it('refuses new requests naming the provider and the way out, and leaves active grants alone', async () => {
    const { number, ns } = await incident(fast);
    const granted = await ask(fast, ns, number);
    expect(granted.body.status.phase).toBe('Active');
    await snow.down();
    try {
      const other = await incident(fast);
      const refused = await ask(fast, other.ns, other.number);
      expect(refused.status).toBe(403);
      expect(refused.body.detail).toMatch(
        /ticket provider snow cannot check ticket INC\d+ now \(snow did not answer/,
      );
      expect(refused.body.detail).toMatch(/elevate breakglass/);
      // Several re-check passes go by with the system down: the grant stays, the outage is audited once.
      await waitFor(
        async () =>
          (await auditEvents(fast)).filter((e) => e.action === 'TicketProviderUnavailable').length > 0,
      );
      await new Promise((r) => setTimeout(r, 2500));
      expect(await aliceCan(fast, ns)).toBe(true);
      const outages = (await auditEvents(fast)).filter((e) => e.action === 'TicketProviderUnavailable');
      expect(outages).toHaveLength(1);
      expect(outages[0].details.provider).toBe('snow');
    } finally {
      await snow.up();
    }
    await waitFor(async () => (await auditEvents(fast)).some((e) => e.action === 'TicketProviderRecovered'));
    const state = (await fast.as('alice').get(`/api/v1/accessrequests/${granted.body.metadata.name}`)).body;
    expect(state.status.phase).toBe('Active');
  });
});

async function callback(
  on: PolicyServer,
  body: Record<string, unknown>,
  opts: { secret?: string; unsigned?: boolean; timestamp?: number } = {},
) {
  const raw = JSON.stringify(body);
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (!opts.unsigned) {
    headers['x-elevate-timestamp'] = timestamp;
    headers['x-elevate-signature'] = signCallback(opts.secret ?? callbackSecret, timestamp, raw);
  }
  return apiFor(on.url, null).raw('/api/v1/tickets/events', { method: 'POST', body: raw, headers });
}
