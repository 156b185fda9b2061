import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiResponse, auditEvents, stateOf } from '../support/elevate.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  rbacApi,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';
import { type PolicyServer, startPolicyElevate } from '../support/policy-config.js';

let server: PolicyServer;
let kube: Record<'dev' | 'dev2', string>;
let rbac: Record<'dev' | 'dev2', k8s.RbacAuthorizationV1Api>;
// Two namespaces on dev, one on dev2, and view cluster-wide on dev2: one grant, four bindings.
const ns = { a: uniqueName('pfa'), b: uniqueName('pfb'), c: uniqueName('pfc') };

const policyText = () => `
profiles:
  - name: oncall
    description: everything the on-call engineer reads
    targets:
      - { cluster: dev, namespace: ${ns.a}, role: view }
      - { cluster: dev, namespace: ${ns.b}, role: view }
      - { cluster: dev2, namespace: ${ns.c}, role: view }
      - { cluster: dev2, clusterWide: true, role: view }
  - name: half-allowed
    targets:
      - { cluster: dev, namespace: ${ns.a}, role: view }
      - { cluster: dev2, namespace: ${ns.c}, role: edit }
policies:
  - name: profiles-read-only
    match: { groups: [devs], profiles: [oncall, half-allowed], roles: [view] }
    decision: auto
  - name: sandbox-anywhere
    match: { groups: [devs], roles: [view], namespaceSelector: { matchLabels: { elevate.dev/tier: sandbox } } }
    decision: auto
`;

beforeAll(async () => {
  kube = { dev: testKubeconfig('dev'), dev2: testKubeconfig('dev2') };
  rbac = { dev: rbacApi(kube.dev), dev2: rbacApi(kube.dev2) };
  await Promise.all([
    createNamespace(kube.dev, ns.a),
    createNamespace(kube.dev, ns.b),
    createNamespace(kube.dev2, ns.c),
  ]);
  server = await startPolicyElevate({
    clusters: { dev: elevateKubeconfig('dev'), dev2: elevateKubeconfig('dev2') },
    policyText: policyText(),
  });
});

afterAll(async () => {
  await server?.stop();
});

const profileRequest = (profile: string, duration: string, query = '') =>
  server.as('alice').post(`/api/v1/accessrequests${query}`, {
    apiVersion: 'elevate.dev/v1',
    kind: 'AccessRequest',
    spec: { profile, duration, reason: 'on call this week' },
  });

/** What alice can do through each of the profile's targets, as each cluster's API server answers. */
const access = () =>
  Promise.all([
    canI(kube.dev, { user: 'alice', verb: 'get', resource: 'pods', namespace: ns.a }),
    canI(kube.dev, { user: 'alice', verb: 'get', resource: 'pods', namespace: ns.b }),
    canI(kube.dev2, { user: 'alice', verb: 'get', resource: 'pods', namespace: ns.c }),
    canI(kube.dev2, { user: 'alice', verb: 'list', resource: 'pods' }),
  ]);
const all = (expected: boolean) => async () => (await access()).every((x) => x === expected);

function expectedBindings(id: string) {
  return [
    { cluster: 'dev', kind: 'RoleBinding', name: `elevate-${id}`, namespace: ns.a },
    { cluster: 'dev', kind: 'RoleBinding', name: `elevate-${id}-1`, namespace: ns.b },
    { cluster: 'dev2', kind: 'RoleBinding', name: `elevate-${id}-2`, namespace: ns.c },
    { cluster: 'dev2', kind: 'ClusterRoleBinding', name: `elevate-${id}-3`, namespace: null },
  ];
}

/** Which of the request's bindings exist, asked of each cluster. */
async function existing(id: string): Promise<string[]> {
  const found: string[] = [];
  for (const b of expectedBindings(id)) {
    const api = rbac[b.cluster as 'dev' | 'dev2'];
    const read =
      b.namespace === null
        ? api.readClusterRoleBinding({ name: b.name })
        : api.readNamespacedRoleBinding({ name: b.name, namespace: b.namespace });
    const there = await read.then(
      () => true,
      (e) => {
        if (e.code === 404) return false;
        throw e;
      },
    );
    if (there) found.push(`${b.cluster}/${b.name}`);
  }
  return found;
}

function expectActive(res: ApiResponse) {
  expect(res.status).toBe(201);
  const id: string = res.body.metadata.name;
  expect(res.body.spec).toMatchObject({ profile: 'oncall' });
  expect(res.body.spec.targets).toHaveLength(4);
  expect(res.body.status).toMatchObject({ phase: 'Active', policy: 'profiles-read-only' });
  expect(res.body.status.grant.bindings).toEqual(expectedBindings(id));
  return id;
}

describe('a profile across both clusters', () => {
  it('is one request whose bindings all appear, and all go at revoke', async () => {
    expect(await access()).toEqual([false, false, false, false]);
    const id = expectActive(await profileRequest('oncall', '10m'));
    await waitFor(all(true));
    expect(await existing(id)).toHaveLength(4);
    const activated = (await auditEvents(server)).find(
      (e) => e.requestId === id && e.action === 'GrantActivated',
    );
    expect(activated.details.bindings).toEqual(expectedBindings(id));
    expect(activated.details.targets).toHaveLength(4);

    const revoked = await server
      .as('alice')
      .post(`/api/v1/accessrequests/${id}/revoke`, { reason: 'handed over' });
    expect(revoked.body.status.phase).toBe('Revoked');
    // Revoked only once every binding is gone.
    expect(await existing(id)).toEqual([]);
    await waitFor(all(false));
    const events = (await auditEvents(server)).filter((e) => e.requestId === id);
    expect(events.at(-1)).toMatchObject({
      action: 'GrantRevoked',
      details: { bindings: expectedBindings(id) },
    });
  });

  it('and all go together at expiry', async () => {
    const id = expectActive(await profileRequest('oncall', '4s'));
    await waitFor(all(true));
    await waitFor(
      async () =>
        (await server.as('alice').get(`/api/v1/accessrequests/${id}`)).body.status.phase === 'Expired',
    );
    expect(await existing(id)).toEqual([]);
    await waitFor(all(false));
  });

  it('is refused naming the target its policy does not allow', async () => {
    const res = await profileRequest('half-allowed', '10m');
    expect(res.status).toBe(403);
    expect(res.body.detail).toBe(
      `no policy allows alice all 2 targets of profile half-allowed: policy profiles-read-only allows the others but not ClusterRole edit in namespace ${ns.c} on cluster dev2 (roles)`,
    );
    const recorded = (await server.as('root').get(`/api/v1/accessrequests/${res.body.request}`)).body;
    expect(recorded.status.phase).toBe('Denied');
    expect(recorded.spec.profile).toBe('half-allowed');
    expect(await access()).toEqual([false, false, false, false]);
  });

  it('?dryRun=All returns the decision and creates nothing', async () => {
    const before = await stateOf(server);
    const dry = await profileRequest('oncall', '10m', '?dryRun=All');
    expect(dry.status).toBe(200);
    expect(dry.body.status).toMatchObject({ phase: 'Approved', grant: null });
    expect(dry.body.status.decision).toEqual({
      outcome: 'auto',
      policy: 'profiles-read-only',
      source: `${server.configFile} policies[0]`,
      trace: [
        { policy: 'profiles-read-only', source: `${server.configFile} policies[0]`, result: 'matched' },
      ],
      refusal: null,
      notes: [],
      requireMfa: false,
      approvalRequiresMfa: false,
    });
    const refusedDry = await profileRequest('half-allowed', '10m', '?dryRun=All');
    expect(refusedDry.status).toBe(200);
    expect(refusedDry.body.status.phase).toBe('Denied');
    expect(refusedDry.body.status.decision.refusal.kind).toBe('no-match');

    expect(await stateOf(server)).toEqual(before);
    expect(
      await (await server.as('root').get(`/api/v1/accessrequests/${dry.body.metadata.name}`)).status,
    ).toBe(404);
    expect(await existing(dry.body.metadata.name)).toEqual([]);
    expect(await access()).toEqual([false, false, false, false]);
  });

  it("judges a namespaceSelector against the labels of the target's own cluster", async () => {
    // The same namespace name on both clusters, labelled sandbox on dev only.
    const name = uniqueName('pfsel');
    for (const cluster of ['dev', 'dev2'] as const) {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(kube[cluster]);
      const labels: Record<string, string> = cluster === 'dev' ? { 'elevate.dev/tier': 'sandbox' } : {};
      await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name, labels } } });
    }
    const ask = (cluster: string) =>
      server.as('alice').post('/api/v1/accessrequests', {
        spec: { cluster, role: 'view', namespace: name, duration: '10m', reason: 'look around' },
      });
    const onDev2 = await ask('dev2');
    expect(onDev2.status).toBe(403);
    expect(onDev2.body.decision.trace.at(-1)).toMatchObject({
      policy: 'sandbox-anywhere',
      matcher: 'namespaceSelector',
      target: { cluster: 'dev2', namespace: name },
    });
    const onDev = await ask('dev');
    expect(onDev.status).toBe(201);
    expect(onDev.body.status).toMatchObject({ phase: 'Active', policy: 'sandbox-anywhere' });
    await server.as('alice').post(`/api/v1/accessrequests/${onDev.body.metadata.name}/revoke`, {});
  });
});
