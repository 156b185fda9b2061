import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Person, requestBody } from '../support/elevate.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';
import { type PolicyServer, startPolicyElevate } from '../support/policy-config.js';

const policyText = `
policies:
  - name: per-user-two
    match: { groups: [devs], namespaces: ['lpu-*'], roles: [view] }
    decision: auto
    maxActivePerUser: 2
  - name: total-two
    match: { groups: [devs, sre-leads], namespaces: ['ltot-*'], roles: [view] }
    decision: auto
    maxActive: 2
  - name: cooled
    match: { groups: [devs], namespaces: ['lcool-*'], roles: [view] }
    decision: auto
    cooldown: 1h
  - name: one-at-a-time
    match: { groups: [devs], namespaces: ['lcc-*'], roles: [view] }
    decision: auto
    maxActivePerUser: 1
  - name: one-approved-at-a-time
    match: { groups: [devs], namespaces: ['lap-*'], roles: [view] }
    decision: approval
    approval: { approvers: { users: [bob] } }
    maxActivePerUser: 1
`;

// A second server: limits.* count every grant of every policy, so they get a server of their own.
const globalPolicyText = `
policies:
  - name: any-view
    match: { groups: [devs], roles: [view] }
    decision: auto
`;

let server: PolicyServer;
let globalServer: PolicyServer;
let kubeconfig: string;

beforeAll(async () => {
  kubeconfig = testKubeconfig('dev');
  server = await startPolicyElevate({ clusters: { dev: elevateKubeconfig('dev') }, policyText });
  globalServer = await startPolicyElevate({
    clusters: { dev: elevateKubeconfig('dev') },
    policyText: globalPolicyText,
    limits: ['maxActivePerUser: 2', 'maxActive: 3'],
  });
});

afterAll(async () => {
  await server?.stop();
  await globalServer?.stop();
});

async function newNamespace(prefix: string): Promise<string> {
  const ns = uniqueName(prefix);
  await createNamespace(kubeconfig, ns);
  return ns;
}

const ask = (on: PolicyServer, person: Person, namespace: string, duration = '10m') =>
  on.as(person).post('/api/v1/accessrequests', requestBody({ role: 'view', namespace, duration }));

async function active(on: PolicyServer, person: Person, namespace: string, duration = '10m') {
  const res = await ask(on, person, namespace, duration);
  expect(res.status).toBe(201);
  expect(res.body.status.phase).toBe('Active');
  return res.body;
}

/** Asks, expects 403 naming `says` and when it frees up, and the attempt recorded Denied with that decision. */
async function refusedByLimit(
  on: PolicyServer,
  person: Person,
  namespace: string,
  says: string,
  freesAt: string,
) {
  const res = await ask(on, person, namespace);
  expect(res.status).toBe(403);
  expect(res.body.detail).toBe(`${says}; the next frees up at ${freesAt}`);
  expect(res.body.decision.refusal).toEqual({ kind: 'limit', message: res.body.detail, freesAt });
  const recorded = (await on.as('root').get(`/api/v1/accessrequests/${res.body.request}`)).body;
  expect(recorded.status.phase).toBe('Denied');
  expect(recorded.status.decision).toEqual(res.body.decision);
  return res.body;
}

const revoke = async (on: PolicyServer, person: Person, id: string) => {
  const res = await on.as(person).post(`/api/v1/accessrequests/${id}/revoke`, {});
  expect(res.body.status.phase).toBe('Revoked');
  return res.body;
};

describe('policy limits', () => {
  it('maxActivePerUser refuses a user’s next grant naming the limit and when it frees up; after a revoke it is allowed', async () => {
    const [a, b, c] = await Promise.all([newNamespace('lpu'), newNamespace('lpu'), newNamespace('lpu')]);
    const first = await active(server, 'alice', a, '10m');
    await active(server, 'alice', b, '20m');
    await refusedByLimit(
      server,
      'alice',
      c,
      'policy per-user-two allows 2 live grants per user (maxActivePerUser)',
      first.status.grant.expiresAt,
    );
    // Per user: dave is not held back by alice's grants.
    await active(server, 'dave', c);
    await revoke(server, 'alice', first.metadata.name);
    await active(server, 'alice', c);
    await waitFor(() => canI(kubeconfig, { user: 'alice', verb: 'get', resource: 'pods', namespace: c }));
  });

  it('maxActive counts everyone’s grants under the policy', async () => {
    const [a, b, c] = await Promise.all([newNamespace('ltot'), newNamespace('ltot'), newNamespace('ltot')]);
    await active(server, 'alice', a, '30m');
    const bobs = await active(server, 'bob', b, '15m');
    await refusedByLimit(
      server,
      'dave',
      c,
      'policy total-two allows 2 live grants at once (maxActive)',
      bobs.status.grant.expiresAt,
    );
    await revoke(server, 'bob', bobs.metadata.name);
    await active(server, 'dave', c);
  });

  it('cooldown refuses the same target under the policy after a revoke, and allows another target', async () => {
    const [a, b] = await Promise.all([newNamespace('lcool'), newNamespace('lcool')]);
    const first = await active(server, 'alice', a);
    const revoked = await revoke(server, 'alice', first.metadata.name);
    // The grant ended when it was revoked: that is when the cooldown starts.
    const endedAt = new Date(revoked.status.revocation.time).getTime();

    const res = await ask(server, 'alice', a);
    expect(res.status).toBe(403);
    const { freesAt, message } = res.body.decision.refusal;
    expect(Math.abs(Date.parse(freesAt) - (endedAt + 3_600_000))).toBeLessThan(1000);
    expect(res.body.detail).toBe(message);
    expect(message).toMatch(
      new RegExp(
        `^policy cooled has a cooldown of 1h \\(cooldown\\) after a grant of the same target; alice's last one \\(${first.metadata.name}\\) ended at \\S+, so it frees up at ${freesAt.replace(/[.]/g, '\\.')}$`,
      ),
    );
    expect(res.body.decision.refusal.kind).toBe('limit');
    expect(
      (await server.as('root').get(`/api/v1/accessrequests/${res.body.request}`)).body.status.phase,
    ).toBe('Denied');

    await active(server, 'alice', b);
    // Someone else's cooldown is not dave's.
    await active(server, 'dave', a);
  });
});

describe('requests made at the same moment', () => {
  it('do not get past maxActivePerUser together', async () => {
    const ns = await Promise.all([1, 2, 3, 4].map(() => newNamespace('lcc')));
    const res = await Promise.all(ns.map((n) => ask(server, 'alice', n)));
    expect(res.map((r) => r.status).sort()).toEqual([201, 403, 403, 403]);
    const live = (await server.as('root').get('/api/v1/accessrequests?phase=Active')).body.items.filter(
      (r: { status: { policy: string } }) => r.status.policy === 'one-at-a-time',
    );
    expect(live).toHaveLength(1);
  });
});

describe('limits at approval', () => {
  it('are judged again when the quorum is reached: the approval over a limit is refused and nothing changes', async () => {
    const [first, second] = await Promise.all([newNamespace('lap'), newNamespace('lap')]);
    // Both wait for bob, so both pass the limit when made: nothing is live yet.
    const a = await ask(server, 'alice', first as string);
    const b = await ask(server, 'alice', second as string);
    expect([a.status, b.status, a.body.status.phase, b.body.status.phase]).toEqual([
      201,
      201,
      'Pending',
      'Pending',
    ]);
    const approve = (id: string) => server.as('bob').post(`/api/v1/accessrequests/${id}/approve`, {});
    expect((await approve(a.body.metadata.name)).body.status.phase).toBe('Active');

    const over = await approve(b.body.metadata.name);
    expect(over.status).toBe(409);
    expect(over.body.detail).toMatch(
      /policy one-approved-at-a-time allows 1 live grant per user \(maxActivePerUser\)/,
    );
    expect(over.body.detail).toMatch(/the approval was not recorded/);
    const still = await server.as('root').get(`/api/v1/accessrequests/${b.body.metadata.name}`);
    expect(still.body.status.phase).toBe('Pending');
    expect(still.body.status.approvals).toEqual([]);
    expect(await canI(kubeconfig, { user: 'alice', verb: 'get', resource: 'pods', namespace: second })).toBe(
      false,
    );

    // Once the first ends, the same approval goes through.
    await server.as('alice').post(`/api/v1/accessrequests/${a.body.metadata.name}/revoke`, {});
    expect((await approve(b.body.metadata.name)).body.status.phase).toBe('Active');
  });
});

describe('global limits', () => {
  it('limits.maxActivePerUser and limits.maxActive hold across policies; a revoke frees room', async () => {
    const ns = await Promise.all([1, 2, 3, 4].map(() => newNamespace('lg')));
    const [a, b, c, d] = ns as [string, string, string, string];
    const first = await active(globalServer, 'alice', a, '10m');
    await active(globalServer, 'alice', b, '20m');
    await refusedByLimit(
      globalServer,
      'alice',
      c,
      'Elevate allows 2 live grants per user (limits.maxActivePerUser)',
      first.status.grant.expiresAt,
    );
    await active(globalServer, 'dave', c, '30m');
    // Three live grants now: dave has room under his own limit, but not under the total.
    await refusedByLimit(
      globalServer,
      'dave',
      d,
      'Elevate allows 3 live grants at once (limits.maxActive)',
      first.status.grant.expiresAt,
    );
    await revoke(globalServer, 'alice', first.metadata.name);
    await active(globalServer, 'alice', c);
  });
});
