import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, expectCreateRefused, type Person, requestBody } from '../support/elevate.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';
import { type PolicyServer, startPolicyElevate } from '../support/policy-config.js';

// Evaluation order: nobody-only (20), edit-only (15), view-needs-approval (10), eq-first-denies and
// eq-second-auto (5, file order), view-auto-low (0, first in the file), then the selector and contractor
// policies below 0.
const policyText = `
policies:
  - name: view-auto-low
    match: { groups: [devs], namespaces: ['prio-*'], roles: [view] }
    decision: auto
  - name: nobody-only
    priority: 20
    match: { users: [nobody] }
    decision: auto
  - name: edit-only
    priority: 15
    match: { groups: [devs], roles: [edit] }
    decision: auto
    allowEscalatingRoles: [edit]
  - name: view-needs-approval
    priority: 10
    match: { groups: [devs], namespaces: ['prio-*'], roles: [view] }
    decision: approval
    approval: { approvers: { groups: [sre-leads] }, required: 1, timeout: 1h }
  - name: eq-first-denies
    priority: 5
    match: { groups: [devs], namespaces: ['eq-*'] }
    decision: deny
    message: the eq namespaces are frozen
  - name: eq-second-auto
    priority: 5
    match: { groups: [devs], namespaces: ['eq-*'] }
    decision: auto
  - name: sandbox-auto
    priority: -1
    match: { groups: [devs], roles: [view], namespaceSelector: { matchLabels: { elevate.dev/tier: sandbox } } }
    decision: auto
  - name: prod-approval
    priority: -2
    match:
      groups: [devs]
      roles: [view]
      namespaceSelector: { matchExpressions: [{ key: elevate.dev/tier, operator: In, values: [prod, staging] }] }
    decision: approval
    approval: { approvers: { users: [bob] }, required: 1, timeout: 1h }
  - name: contractors-anywhere
    priority: -10
    match: { groups: [contractors], namespaces: ['*'], roles: [view] }
    decision: auto
  - name: contractors-kube-public
    priority: -20
    match: { groups: [contractors], namespaces: [kube-public], roles: [view] }
    decision: auto
`;

let server: PolicyServer;
let kubeconfig: string;
let core: k8s.CoreV1Api;

beforeAll(async () => {
  kubeconfig = testKubeconfig('dev');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  core = kc.makeApiClient(k8s.CoreV1Api);
  server = await startPolicyElevate({ clusters: { dev: elevateKubeconfig('dev') }, policyText });
});

afterAll(async () => {
  await server?.stop();
});

async function newNamespace(prefix: string): Promise<string> {
  const ns = uniqueName(prefix);
  await createNamespace(kubeconfig, ns);
  return ns;
}

const target = (namespace: string, role = 'view') => ({
  cluster: 'dev',
  role,
  roleKind: 'ClusterRole',
  namespace,
  clusterWide: false,
});
const source = (i: number) => `${server.configFile} policies[${i}]`;

const request = (person: Person, spec: Record<string, unknown>) =>
  server.as(person).post('/api/v1/accessrequests', requestBody({ duration: '10m', ...spec }));

/** The namespace's labels replaced, through the Kubernetes API, as an admin would with kubectl label. */
async function setLabels(name: string, labels: Record<string, string>): Promise<void> {
  const ns = await core.readNamespace({ name });
  const kept = Object.fromEntries(
    Object.entries(ns.metadata?.labels ?? {}).filter(([k]) => k.startsWith('kubernetes.io/')),
  );
  await core.replaceNamespace({
    name,
    body: { ...ns, metadata: { ...ns.metadata, labels: { ...kept, ...labels } } },
  });
}

describe('priority order', () => {
  it('the higher priority decides though it comes later in the file; the trace names each skipped policy and its failing matcher', async () => {
    const ns = await newNamespace('prio');
    const res = await request('alice', { role: 'view', namespace: ns });
    expect(res.status).toBe(201);
    expect(res.body.status.phase).toBe('Pending');
    expect(res.body.status.policy).toBe('view-needs-approval');
    expect(res.body.status.decision).toEqual({
      outcome: 'approval',
      policy: 'view-needs-approval',
      source: source(3),
      refusal: null,
      notes: [],
      requireMfa: false,
      approvalRequiresMfa: false,
      trace: [
        {
          policy: 'nobody-only',
          source: source(1),
          result: 'skipped',
          matcher: 'users',
          reason: 'the requester is not one of [nobody]',
        },
        {
          policy: 'edit-only',
          source: source(2),
          result: 'skipped',
          matcher: 'roles',
          reason: 'role view is not one of [edit]',
          target: target(ns),
        },
        { policy: 'view-needs-approval', source: source(3), result: 'matched' },
      ],
    });
    // view-auto-low, first in the file, would have granted at once: nothing is bound while it waits.
    expect(await canI(kubeconfig, { user: 'alice', verb: 'get', resource: 'pods', namespace: ns })).toBe(
      false,
    );
    const created = (await auditEvents(server)).find(
      (e) => e.requestId === res.body.metadata.name && e.action === 'RequestCreated',
    );
    expect(created.details).toMatchObject({ policy: 'view-needs-approval', decision: 'approval' });
    expect(created.details.trace.map((t: { policy: string }) => t.policy)).toEqual([
      'nobody-only',
      'edit-only',
      'view-needs-approval',
    ]);
  });

  it('equal priorities keep file order: the first of two matching policies decides', async () => {
    const ns = await newNamespace('eq');
    await expectCreateRefused(server, requestBody({ role: 'view', namespace: ns, duration: '10m' }), {
      status: 403,
      detail: /^the eq namespaces are frozen$/,
    });
    const denied = (await server.as('root').get('/api/v1/accessrequests')).body.items.find(
      (r: { spec: { namespace: string } }) => r.spec.namespace === ns,
    );
    expect(denied.status.phase).toBe('Denied');
    expect(denied.status.decision).toMatchObject({
      outcome: 'refused',
      policy: 'eq-first-denies',
      refusal: { kind: 'policy', message: 'the eq namespaces are frozen' },
    });
    expect(
      denied.status.decision.trace.map((t: { policy: string; result: string; matcher?: string }) => [
        t.policy,
        t.result,
        t.matcher,
      ]),
    ).toEqual([
      ['nobody-only', 'skipped', 'users'],
      ['edit-only', 'skipped', 'roles'],
      ['view-needs-approval', 'skipped', 'namespaces'],
      ['eq-first-denies', 'matched', undefined],
    ]);
    const refused = (await auditEvents(server)).find((e) => e.requestId === denied.metadata.name);
    expect(refused.action).toBe('RequestRefused');
    expect(refused.details.decision.policy).toEqual({ name: 'eq-first-denies', source: source(4) });
  });
});

describe('namespaceSelector on live labels', () => {
  it('follows label changes made through the Kubernetes API, without restarting Elevate', async () => {
    const ns = await newNamespace('sel');
    const selectorEntries = (decision: { trace: { policy: string; matcher?: string; reason?: string }[] }) =>
      decision.trace.filter((t) => t.policy === 'sandbox-auto' || t.policy === 'prod-approval');

    // No label: neither selector holds.
    const unlabelled = await request('alice', { role: 'view', namespace: ns });
    expect(unlabelled.status).toBe(403);
    expect(unlabelled.body.decision.refusal).toEqual({
      kind: 'no-match',
      message: `no policy allows alice to request ClusterRole view in namespace ${ns} on cluster dev`,
    });
    expect(selectorEntries(unlabelled.body.decision)).toEqual(
      ['sandbox-auto', 'prod-approval'].map((policy) =>
        expect.objectContaining({
          policy,
          result: 'skipped',
          matcher: 'namespaceSelector',
          reason: expect.stringContaining(`namespace ${ns}'s labels do not satisfy`),
          target: target(ns),
        }),
      ),
    );

    await setLabels(ns, { 'elevate.dev/tier': 'sandbox' });
    const sandbox = await request('alice', { role: 'view', namespace: ns });
    expect(sandbox.status).toBe(201);
    expect(sandbox.body.status).toMatchObject({ phase: 'Active', policy: 'sandbox-auto' });
    expect(sandbox.body.status.decision.trace.at(-1)).toMatchObject({
      policy: 'sandbox-auto',
      result: 'matched',
    });
    await waitFor(() => canI(kubeconfig, { user: 'alice', verb: 'get', resource: 'pods', namespace: ns }));
    await server.as('alice').post(`/api/v1/accessrequests/${sandbox.body.metadata.name}/revoke`, {});

    await setLabels(ns, { 'elevate.dev/tier': 'prod' });
    const prod = await request('alice', { role: 'view', namespace: ns });
    expect(prod.status).toBe(201);
    expect(prod.body.status).toMatchObject({
      phase: 'Pending',
      policy: 'prod-approval',
      requiredApprovals: 1,
    });
    expect(selectorEntries(prod.body.status.decision)).toEqual([
      expect.objectContaining({
        policy: 'sandbox-auto',
        result: 'skipped',
        matcher: 'namespaceSelector',
        reason: expect.stringContaining(`namespace ${ns}'s labels do not satisfy`),
        target: target(ns),
      }),
      expect.objectContaining({ policy: 'prod-approval', result: 'matched' }),
    ]);

    await setLabels(ns, {});
    const removed = await request('alice', { role: 'view', namespace: ns });
    expect(removed.status).toBe(403);
    expect(removed.body.decision.refusal.kind).toBe('no-match');
    expect(
      (await server.as('root').get(`/api/v1/accessrequests/${removed.body.request}`)).body.status.phase,
    ).toBe('Denied');
  });
});

describe('protected namespaces', () => {
  it("a policy with namespaces ['*'] does not reach a protected namespace; one naming it literally does", async () => {
    // kube-node-lease: only the glob policy is for it, so the request is refused and the trace says why.
    const lease = await request('mallory', { role: 'view', namespace: 'kube-node-lease' });
    expect(lease.status).toBe(403);
    expect(lease.body.decision.refusal.kind).toBe('no-match');
    expect(
      lease.body.decision.trace.find((t: { policy: string }) => t.policy === 'contractors-anywhere'),
    ).toEqual({
      policy: 'contractors-anywhere',
      source: source(8),
      result: 'skipped',
      matcher: 'namespaces',
      reason: 'namespace kube-node-lease is protected: only a policy naming it literally matches',
      target: target('kube-node-lease'),
    });
    expect(
      (await server.as('root').get(`/api/v1/accessrequests/${lease.body.request}`)).body.status.phase,
    ).toBe('Denied');

    // An ordinary namespace is reached by the glob.
    const ns = await newNamespace('prot');
    const ordinary = await request('mallory', { role: 'view', namespace: ns });
    expect(ordinary.body.status).toMatchObject({ phase: 'Active', policy: 'contractors-anywhere' });

    // kube-public: the glob policy is skipped as protected, the literal one decides.
    const pub = await request('mallory', { role: 'view', namespace: 'kube-public' });
    expect(pub.status).toBe(201);
    expect(pub.body.status).toMatchObject({ phase: 'Active', policy: 'contractors-kube-public' });
    const trace = pub.body.status.decision.trace;
    expect(trace.at(-2)).toMatchObject({
      policy: 'contractors-anywhere',
      matcher: 'namespaces',
      reason: 'namespace kube-public is protected: only a policy naming it literally matches',
    });
    expect(trace.at(-1)).toMatchObject({ policy: 'contractors-kube-public', result: 'matched' });
    const canReadPublic = () =>
      canI(kubeconfig, { user: 'mallory', verb: 'get', resource: 'pods', namespace: 'kube-public' });
    await waitFor(canReadPublic);
    const revoked = await server
      .as('mallory')
      .post(`/api/v1/accessrequests/${pub.body.metadata.name}/revoke`, {});
    expect(revoked.body.status.phase).toBe('Revoked');
    await waitFor(async () => !(await canReadPublic()));
  });
});
