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
  server = await startElevate({ clusters: { dev: elevateKubeconfig('dev') }, reconcileInterval: '10m' });
  // With a 10-minute periodic pass, every repair below comes from watching the bindings.
});

afterAll(async () => {
  await server?.stop();
});

async function auditActions(requestId: string | null, action: string) {
  return (await auditEvents(server)).filter(
    (e) => e.action === action && (requestId === null || e.requestId === requestId),
  );
}

/** alice's active `view` grant in a fresh namespace, and its binding's name. */
async function activeViewGrant() {
  const ns = uniqueName('drift');
  await createNamespace(kubeconfig, ns);
  const res = await server
    .as('alice')
    .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '10m' }));
  expect(res.body.status.phase).toBe('Active');
  const id: string = res.body.metadata.name;
  return { ns, id, name: `elevate-${id}` };
}

describe('drift', () => {
  it('recreates the deleted binding of an active grant, and audits it', async () => {
    const { ns, id, name } = await activeViewGrant();
    expect(await canI(kubeconfig, { user: 'alice', verb: 'list', resource: 'pods', namespace: ns })).toBe(
      true,
    );

    await rbac.deleteNamespacedRoleBinding({ name, namespace: ns });
    await waitFor(
      async () => (await rbac.readNamespacedRoleBinding({ name, namespace: ns })).metadata?.name === name,
      {
        timeoutMs: 5_000,
      },
    );
    expect(await canI(kubeconfig, { user: 'alice', verb: 'list', resource: 'pods', namespace: ns })).toBe(
      true,
    );
    expect(await auditActions(id, 'BindingRestored')).toHaveLength(1);
  });

  it('puts back a binding someone pointed at another role', async () => {
    const { ns, id, name } = await activeViewGrant();
    const existing = await rbac.readNamespacedRoleBinding({ name, namespace: ns });
    await rbac.deleteNamespacedRoleBinding({ name, namespace: ns });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name, labels: existing.metadata?.labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }],
      },
    });
    await waitFor(
      async () => (await rbac.readNamespacedRoleBinding({ name, namespace: ns })).roleRef.name === 'view',
      {
        timeoutMs: 5_000,
      },
    );
    expect(await canI(kubeconfig, { user: 'alice', verb: 'delete', resource: 'pods', namespace: ns })).toBe(
      false,
    );
    expect(await auditActions(id, 'BindingCorrected')).toHaveLength(1);
  });

  it("removes a binding labelled as Elevate's with no active grant behind it, and audits it", async () => {
    const ns = uniqueName('drift');
    await createNamespace(kubeconfig, ns);
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: {
          name: 'sneaky',
          labels: { 'app.kubernetes.io/managed-by': 'elevate', 'elevate.dev/request': 'ar-forged' },
        },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'mallory' }],
      },
    });
    await waitFor(
      async () => {
        try {
          await rbac.readNamespacedRoleBinding({ name: 'sneaky', namespace: ns });
          return false;
        } catch (e) {
          return (e as { code?: number }).code === 404;
        }
      },
      { timeoutMs: 5_000 },
    );
    expect(await canI(kubeconfig, { user: 'mallory', verb: 'get', resource: 'pods', namespace: ns })).toBe(
      false,
    );
    const removed = await auditActions('ar-forged', 'OrphanBindingRemoved');
    expect(removed).toHaveLength(1);
    expect(removed[0].details.subjects).toEqual([{ kind: 'User', name: 'mallory' }]);
  });

  it("leaves bindings without Elevate's label alone", async () => {
    const ns = uniqueName('drift');
    await createNamespace(kubeconfig, ns);
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'team-owned' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'erin' }],
      },
    });
    expect((await server.as('root').post('/api/v1/reconcile')).status).toBe(200);
    expect((await rbac.readNamespacedRoleBinding({ name: 'team-owned', namespace: ns })).metadata?.name).toBe(
      'team-owned',
    );
  });
});
