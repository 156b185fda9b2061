import type * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, type Person, requestBody } from '../support/elevate.js';
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

// Approvers include devs where it matters: alice is then an approver by group, and still never counts
// for her own request.
const policyText = `
policies:
  - name: two-deny-ends
    match: { groups: [devs], namespaces: ['qend-*'], roles: [view] }
    decision: approval
    approval: { approvers: { groups: [sre-leads, platform-admins] }, required: 2, timeout: 1h }
  - name: two-deny-recorded
    match: { groups: [devs], namespaces: ['qrec-*'], roles: [view] }
    decision: approval
    approval: { approvers: { groups: [sre-leads, platform-admins, devs] }, required: 2, timeout: 1h, denyEnds: false }
  - name: two-with-comment
    match: { groups: [devs], namespaces: ['qcom-*'], roles: [view] }
    decision: approval
    approval: { approvers: { groups: [sre-leads, devs] }, required: 2, timeout: 1h, requireComment: true }
  - name: two-short-deadline
    match: { groups: [devs], namespaces: ['qdl-*'], roles: [view] }
    decision: approval
    approval: { approvers: { groups: [sre-leads] }, required: 2, timeout: 3s, denyEnds: false }
`;

let server: PolicyServer;
let kubeconfig: string;
let rbac: k8s.RbacAuthorizationV1Api;

beforeAll(async () => {
  kubeconfig = testKubeconfig('dev');
  rbac = rbacApi(kubeconfig);
  server = await startPolicyElevate({ clusters: { dev: elevateKubeconfig('dev') }, policyText });
});

afterAll(async () => {
  await server?.stop();
});

/** alice's pending request for view in a fresh namespace named with `prefix`. */
async function pendingRequest(prefix: string, policy: string): Promise<{ ns: string; id: string }> {
  const ns = uniqueName(prefix);
  await createNamespace(kubeconfig, ns);
  const res = await server
    .as('alice')
    .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '10m' }));
  expect(res.status).toBe(201);
  expect(res.body.status).toMatchObject({ phase: 'Pending', policy, requiredApprovals: 2 });
  return { ns, id: res.body.metadata.name };
}

const act = (person: Person, id: string, action: 'approve' | 'deny', comment?: string) =>
  server.as(person).post(`/api/v1/accessrequests/${id}/${action}`, comment === undefined ? {} : { comment });

const canGetPods = (ns: string) =>
  canI(kubeconfig, { user: 'alice', verb: 'get', resource: 'pods', namespace: ns });

async function bindingExists(ns: string, id: string): Promise<boolean> {
  return rbac
    .readNamespacedRoleBinding({ name: `elevate-${id}`, namespace: ns })
    .then(() => true)
    .catch((e) => {
      if (e.code === 404) return false;
      throw e;
    });
}

async function actionsOf(id: string): Promise<string[]> {
  return (await auditEvents(server)).filter((e) => e.requestId === id).map((e) => e.action);
}

describe('a quorum of 2', () => {
  it('with denyEnds true, one deny ends the request and no binding is ever written', async () => {
    const { ns, id } = await pendingRequest('qend', 'two-deny-ends');
    const first = await act('bob', id, 'approve');
    expect(first.body.status).toMatchObject({ phase: 'Pending', message: '1 of 2 approvals' });

    const denied = await act('carol', id, 'deny', 'not during the freeze');
    expect(denied.status).toBe(200);
    expect(denied.body.status).toMatchObject({
      phase: 'Denied',
      message: 'denied by carol: not during the freeze',
      grant: null,
    });
    const late = await act('root', id, 'approve');
    expect(late.status).toBe(409);
    expect((await server.as('root').get(`/api/v1/accessrequests/${id}`)).body.status.phase).toBe('Denied');

    expect(await actionsOf(id)).toEqual(['RequestCreated', 'ApprovalRecorded', 'RequestDenied']);
    expect(await bindingExists(ns, id)).toBe(false);
    expect(await canGetPods(ns)).toBe(false);
  });

  it('with denyEnds false, a deny is recorded, the request waits, and two other approvals make it Active; the requester never counts', async () => {
    const { ns, id } = await pendingRequest('qrec', 'two-deny-recorded');

    const self = await act('alice', id, 'approve');
    expect(self.status).toBe(403);
    expect(self.body.detail).toBe('a requester cannot approve or deny their own request');

    const denied = await act('bob', id, 'deny', 'I would rather not');
    expect(denied.status).toBe(200);
    expect(denied.body.status).toMatchObject({
      phase: 'Pending',
      message: 'denied by bob: I would rather not; 0 of 2 approvals, still waiting',
      approvals: [{ user: 'bob', decision: 'Denied', comment: 'I would rather not' }],
    });
    expect(await bindingExists(ns, id)).toBe(false);

    const one = await act('carol', id, 'approve');
    expect(one.body.status).toMatchObject({ phase: 'Pending', message: '1 of 2 approvals' });
    const two = await act('dave', id, 'approve', 'fine by me');
    expect(two.status).toBe(200);
    expect(two.body.status.phase).toBe('Active');
    expect(
      two.body.status.approvals.map((a: { user: string; decision: string }) => [a.user, a.decision]),
    ).toEqual([
      ['bob', 'Denied'],
      ['carol', 'Approved'],
      ['dave', 'Approved'],
    ]);
    await waitFor(() => canGetPods(ns));
    expect(await actionsOf(id)).toEqual([
      'RequestCreated',
      'DenialRecorded',
      'ApprovalRecorded',
      'ApprovalRecorded',
      'RequestApproved',
      'GrantActivated',
    ]);
    const recorded = (await auditEvents(server)).find(
      (e) => e.requestId === id && e.action === 'DenialRecorded',
    );
    expect(recorded).toMatchObject({ actor: 'bob', details: { comment: 'I would rather not' } });
  });

  it('requireComment refuses an approval or denial without a comment (400) and changes nothing', async () => {
    const { ns, id } = await pendingRequest('qcom', 'two-with-comment');
    const before = (await server.as('root').get(`/api/v1/accessrequests/${id}`)).body;
    const auditBefore = (await auditEvents(server)).length;

    for (const [action, comment] of [
      ['approve', undefined],
      ['approve', '   '],
      ['deny', undefined],
    ] as const) {
      const res = await act('bob', id, action, comment);
      expect(res.status).toBe(400);
      expect(res.contentType).toContain('application/problem+json');
      expect(res.body).toMatchObject({
        detail: 'policy two-with-comment requires a comment with every decision',
        field: 'comment',
      });
    }
    expect((await server.as('root').get(`/api/v1/accessrequests/${id}`)).body).toEqual(before);
    expect((await auditEvents(server)).length).toBe(auditBefore);

    expect((await act('bob', id, 'approve', 'checked the runbook')).body.status.phase).toBe('Pending');
    const done = await act('dave', id, 'approve', 'pairing with alice');
    expect(done.body.status.phase).toBe('Active');
    await waitFor(() => canGetPods(ns));
  });

  it('with denyEnds false, a request short of its quorum times out at the deadline, the denial on record', async () => {
    const { ns, id } = await pendingRequest('qdl', 'two-short-deadline');
    expect((await act('bob', id, 'deny')).body.status.phase).toBe('Pending');
    expect((await act('carol', id, 'approve')).body.status.phase).toBe('Pending');
    await waitFor(
      async () =>
        (await server.as('root').get(`/api/v1/accessrequests/${id}`)).body.status.phase === 'TimedOut',
      { timeoutMs: 10_000 },
    );
    expect(await actionsOf(id)).toEqual([
      'RequestCreated',
      'DenialRecorded',
      'ApprovalRecorded',
      'RequestTimedOut',
    ]);
    expect(await bindingExists(ns, id)).toBe(false);
  });
});
