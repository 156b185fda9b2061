import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFor, auditEvents, requestBody, stateOf } from '../support/elevate.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';
import { type PolicyServer, startPolicyElevate } from '../support/policy-config.js';

/**
 * A ticket system asking for people: on-behalf requests (spec.requester) judged with match.via, and Rafay's
 * BreakGlassAccess payload. The integration signs in as `snow-bot` (a token-file line, token-snow-bot).
 */
let server: PolicyServer;
const ns = uniqueName('integ');
const kubeconfig = () => testKubeconfig('dev');

beforeAll(async () => {
  await createNamespace(kubeconfig(), ns);
  server = await startPolicyElevate({
    clusters: { dev: elevateKubeconfig('dev') },
    extraPeople: { 'snow-bot': ['integrations'], 'jira-bot': ['integrations'] },
    policyText: `
integrations:
  - name: servicenow
    user: snow-bot
    mayRequestFor: { groups: [devs], users: [newcomer] }
  - name: jira
    user: jira-bot
    mayRequestFor: { users: [dave] }
profiles:
  - name: prod-app-namespace
    targets: [{ cluster: dev, namespace: ${ns}, role: view }]
  - name: prod-app-edit
    targets: [{ cluster: dev, namespace: ${ns}, role: edit }]
policies:
  - name: servicenow-approved-it
    match: { via: [servicenow], roles: [view] }
    decision: auto
    maxDuration: 4h
  - name: edit-never-via-tickets
    match: { via: [servicenow], roles: [edit] }
    decision: deny
    message: edit is not granted through tickets
  - name: people-need-approval
    match: { groups: [devs], roles: [view] }
    decision: approval
    approval: { approvers: { users: [bob] } }
`,
  });
  // alice signs in once: her groups are known from then on.
  expect((await server.as('alice').get('/api/v1/whoami')).status).toBe(200);
});

afterAll(async () => {
  await server?.stop();
});

const aliceCan = () => canI(kubeconfig(), { user: 'alice', verb: 'get', resource: 'pods', namespace: ns });
const bot = () => apiFor(server.url, 'token-snow-bot');

describe('on-behalf requests', () => {
  it('an integration asks for a person: judged as theirs with via, recorded with both', async () => {
    const res = await bot().post(
      '/api/v1/accessrequests',
      requestBody({ role: 'view', namespace: ns, duration: '10m', requester: 'alice' }),
    );
    expect(res.status).toBe(201);
    expect(res.body.spec).toMatchObject({ requester: 'alice', requestedBy: 'snow-bot', via: 'servicenow' });
    expect(res.body.status).toMatchObject({ phase: 'Active', policy: 'servicenow-approved-it' });
    expect(await aliceCan()).toBe(true);
    const created = (await auditEvents(server)).find(
      (e) => e.action === 'RequestCreated' && e.requestId === res.body.metadata.name,
    );
    expect(created).toMatchObject({ actor: 'snow-bot', details: { via: 'servicenow', requester: 'alice' } });
    // The integration sees and may take back what it asked for.
    expect((await bot().get(`/api/v1/accessrequests/${res.body.metadata.name}`)).status).toBe(200);
    const revoked = await bot().post(`/api/v1/accessrequests/${res.body.metadata.name}/revoke`, {});
    expect(revoked.body.status.phase).toBe('Revoked');
    await waitFor(async () => !(await aliceCan()));
  });

  it('the same person asking directly is judged without via', async () => {
    const res = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '10m' }));
    expect(res.status).toBe(201);
    expect(res.body.status).toMatchObject({ phase: 'Pending', policy: 'people-need-approval' });
    expect(res.body.status.decision.trace[0]).toMatchObject({ matcher: 'via' });
    await server.as('alice').post(`/api/v1/accessrequests/${res.body.metadata.name}/cancel`, {});
  });

  it('refuses a person who is not an integration, an integration acting outside mayRequestFor, and a person never seen', async () => {
    const before = await stateOf(server);
    const notIntegration = await server
      .as('bob')
      .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, requester: 'alice' }));
    expect(notIntegration.status).toBe(403);
    expect(notIntegration.body).toMatchObject({ field: 'spec.requester' });
    expect(notIntegration.body.detail).toMatch(/bob may not ask on someone else's behalf/);
    const outside = await apiFor(server.url, 'token-jira-bot').post(
      '/api/v1/accessrequests',
      requestBody({ role: 'view', namespace: ns, requester: 'alice' }),
    );
    expect(outside.status).toBe(403);
    expect(outside.body.detail).toMatch(/integration jira may not ask for alice/);
    const unseen = await bot().post(
      '/api/v1/accessrequests',
      requestBody({ role: 'view', namespace: ns, requester: 'stranger' }),
    );
    expect(unseen.status).toBe(403);
    expect(unseen.body.detail).toMatch(
      /stranger has never signed in to Elevate, so their groups are unknown/,
    );
    expect(await stateOf(server)).toEqual(before);
  });
});

describe('Rafay BreakGlassAccess', () => {
  const payload = (name: string, startTime: string, user = 'alice', expiry = 1) => ({
    apiVersion: 'system.k8smgmt.io/v3',
    kind: 'BreakGlassAccess',
    metadata: { name: user },
    spec: { groups: [{ groupExpiry: [{ expiry, name, startTime }], userType: 'local' }] },
  });
  const path = '/apis/system.k8smgmt.io/v3/breakglassaccess';

  it('the reference payload grants the profile; posted again creates nothing; DELETE revokes it', async () => {
    const startTime = new Date(Date.now() - 60_000).toISOString();
    const first = await bot().post(path, payload('prod-app-namespace', startTime));
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body.kind).toBe('AccessRequestList');
    expect(first.body.items).toHaveLength(1);
    const [granted] = first.body.items;
    expect(granted.spec).toMatchObject({
      requester: 'alice',
      profile: 'prod-app-namespace',
      duration: '1h',
      via: 'servicenow',
    });
    expect(granted.status.phase).toBe('Active');
    expect(await aliceCan()).toBe(true);

    const again = await bot().post(path, payload('prod-app-namespace', startTime));
    expect(again.status).toBe(200);
    expect(again.body.items.map((r: { metadata: { name: string } }) => r.metadata.name)).toEqual([
      granted.metadata.name,
    ]);
    const mine = (await server.as('root').get('/api/v1/accessrequests')).body.items.filter(
      (r: { spec: { profile: string; requester: string } }) =>
        r.spec.profile === 'prod-app-namespace' && r.spec.requester === 'alice',
    );
    expect(mine).toHaveLength(1);

    const deleted = await bot().raw(`${path}/alice`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(deleted.body.items[0]).toMatchObject({ status: { phase: 'Revoked' } });
    await waitFor(async () => !(await aliceCan()));
  });

  it('a start in the future is scheduled', async () => {
    const startTime = new Date(Date.now() + 3_600_000).toISOString();
    const res = await bot().post(path, payload('prod-app-namespace', startTime));
    expect(res.status).toBe(201);
    expect(res.body.items[0].status.phase).toBe('Scheduled');
    await bot().raw(`${path}/alice`, { method: 'DELETE' });
  });

  it('unknown profiles, bad times and users out of reach are refused naming the field, creating nothing', async () => {
    const before = await stateOf(server);
    const now = new Date().toISOString();
    const unknown = await bot().post(path, payload('no-such-profile', now));
    expect(unknown.status).toBe(404);
    expect(unknown.body.field).toBe('spec.groups[0].groupExpiry[0].name');
    const badTime = await bot().post(path, payload('prod-app-namespace', 'yesterday'));
    expect(badTime.status).toBe(400);
    expect(badTime.body.detail).toMatch(/spec\.groups\.0\.groupExpiry\.0\.startTime/);
    const badExpiry = await bot().post(path, payload('prod-app-namespace', now, 'alice', -1));
    expect(badExpiry.status).toBe(400);
    const denied = await bot().post(path, payload('prod-app-edit', now));
    expect(denied.status).toBe(403);
    expect(denied.body.detail).toMatch(/edit is not granted through tickets/);
    const stranger = await bot().post(path, payload('prod-app-namespace', now, 'stranger'));
    expect(stranger.status).toBe(403);
    expect(stranger.body.field).toBe('metadata.name');
    const notIntegration = await server.as('alice').post(path, payload('prod-app-namespace', now));
    expect(notIntegration.status).toBe(403);
    expect((await apiFor(server.url, null).post(path, payload('prod-app-namespace', now))).status).toBe(401);
    // A refused dry run leaves nothing behind: the policy's verdict is asked before anything is made.
    expect(await stateOf(server)).toEqual(before);
  });
});

describe('elevate request --for', () => {
  it('asks for the person through the CLI', async () => {
    const { elevateCli } = await import('../support/cli.js');
    const r = await elevateCli(server.url)(
      'snow-bot',
      'request',
      '--for',
      'alice',
      '--cluster',
      'dev',
      '--role',
      'view',
      '--namespace',
      ns,
      '--duration',
      '10m',
      '--reason',
      'INC0012345 approved in ServiceNow',
      '-o',
      'json',
    );
    expect(r.code, r.stderr).toBe(0);
    const made = JSON.parse(r.stdout);
    expect(made.spec).toMatchObject({ requester: 'alice', requestedBy: 'snow-bot', via: 'servicenow' });
    expect(made.status.phase).toBe('Active');
    await bot().post(`/api/v1/accessrequests/${made.metadata.name}/revoke`, {});
  });
});
