import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeViewGrant, auditEvents, type RunningElevate, startElevate } from '../support/elevate.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  rbacApi,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';

const rbacGroup = 'rbac.authorization.k8s.io';
let server: RunningElevate;
let kubeconfig: string;
let rbac: k8s.RbacAuthorizationV1Api;
let core: k8s.CoreV1Api;

beforeAll(async () => {
  kubeconfig = testKubeconfig('dev');
  rbac = rbacApi(kubeconfig);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  core = kc.makeApiClient(k8s.CoreV1Api);
  // The periodic pass is 10 minutes away (its start-up run is over before any test acts), so every
  // repair below comes from watching the bindings. drift-periodic.test.ts covers the pass on its own.
  server = await startElevate({ clusters: { dev: elevateKubeconfig('dev') }, reconcileInterval: '10m' });
});

afterAll(async () => {
  await server?.stop();
});

const elevateLabels = (requestId: string) => ({
  'app.kubernetes.io/managed-by': 'elevate',
  'elevate.dev/request': requestId,
});

/** The audit events of one action, once at least one matching `where` is written (repairs are audited just after). */
type AuditEvent = Awaited<ReturnType<typeof auditEvents>>[number];

function auditOf(requestId: string, action: string, where: (e: AuditEvent) => boolean = () => true) {
  return waitFor(async () => {
    const found = (await auditEvents(server)).filter(
      (e) => e.action === action && e.requestId === requestId && where(e),
    );
    return found.length > 0 ? found : null;
  });
}

async function exists(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return true;
  } catch (e) {
    if (e instanceof k8s.ApiException && e.code === 404) return false;
    throw e;
  }
}

const readBinding = (name: string, namespace: string) => () =>
  rbac.readNamespacedRoleBinding({ name, namespace });
const can = (user: string, verb: string, namespace?: string) =>
  canI(kubeconfig, { user, verb, resource: 'pods', ...(namespace ? { namespace } : {}) });

/** alice's active `view` grant in a fresh namespace (or `ns`), once the API server honours it. */
/** alice's active `view` grant in a fresh namespace, once the API server honours it. */
async function activeGrant() {
  const grant = await activeViewGrant(server, { kubeconfig, prefix: 'drift' });
  await waitFor(() => can('alice', 'list', grant.ns));
  return grant;
}

describe('drift', () => {
  it('recreates the deleted binding of an active grant, and audits it', async () => {
    const { ns, id, name } = await activeGrant();

    await rbac.deleteNamespacedRoleBinding({ name, namespace: ns });

    const [restored] = await auditOf(id, 'BindingRestored');
    expect(restored.details.binding).toMatchObject({ kind: 'RoleBinding', name, namespace: ns });
    expect(await exists(readBinding(name, ns))).toBe(true);
    await waitFor(() => can('alice', 'list', ns));
  });

  it('corrects a binding someone widened to more people', async () => {
    const { ns, id, name } = await activeGrant();
    const binding = await rbac.readNamespacedRoleBinding({ name, namespace: ns });

    await rbac.replaceNamespacedRoleBinding({
      name,
      namespace: ns,
      body: {
        ...binding,
        subjects: [...(binding.subjects ?? []), { apiGroup: rbacGroup, kind: 'User', name: 'mallory' }],
      },
    });

    const [corrected] = await auditOf(id, 'BindingCorrected');
    expect(corrected.details.found.subjects).toContainEqual({ kind: 'User', name: 'mallory' });
    await waitFor(async () => !(await can('mallory', 'list', ns)));
    expect((await readBinding(name, ns)()).subjects?.map((s) => s.name)).toEqual(['alice']);
  });

  it('puts back a binding someone pointed at another role', async () => {
    const { ns, id, name } = await activeGrant();
    const labels = (await readBinding(name, ns)()).metadata?.labels;

    // roleRef cannot change in place: delete and create. The watch may restore the binding in between;
    // then the create meets 409, and the swap is tried again until it lands.
    await waitFor(async () => {
      await rbac.deleteNamespacedRoleBinding({ name, namespace: ns }).catch(() => undefined);
      await rbac.createNamespacedRoleBinding({
        namespace: ns,
        body: {
          metadata: { name, labels },
          roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'admin' },
          subjects: [{ apiGroup: rbacGroup, kind: 'User', name: 'alice' }],
        },
      });
      return true;
    });

    await auditOf(id, 'BindingCorrected', (e) => e.details.found?.roleRef?.name === 'admin');
    await waitFor(async () => (await readBinding(name, ns)()).roleRef.name === 'view');
    await waitFor(async () => !(await can('alice', 'delete', ns)));
  });

  it("removes a binding labelled as Elevate's with no live grant behind it, and audits it", async () => {
    const ns = uniqueName('drift');
    await createNamespace(kubeconfig, ns);
    const requestId = uniqueName('ar-none');
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'sneaky', labels: elevateLabels(requestId) },
        roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'edit' },
        subjects: [{ apiGroup: rbacGroup, kind: 'User', name: 'mallory' }],
      },
    });

    const [removed] = await auditOf(requestId, 'OrphanBindingRemoved');
    expect(removed.details.subjects).toEqual([{ kind: 'User', name: 'mallory' }]);
    expect(await exists(readBinding('sneaky', ns))).toBe(false);
    await waitFor(async () => !(await can('mallory', 'get', ns)));
  });

  it('removes bindings forged with a live grant’s label, and audits them as forged', async () => {
    const { ns, id, name } = await activeGrant();
    const forgedWide = uniqueName('forged');
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: forgedWide, labels: elevateLabels(id) },
        roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ apiGroup: rbacGroup, kind: 'User', name: 'mallory' }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'forged-edit', labels: elevateLabels(id) },
        roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'edit' },
        subjects: [{ apiGroup: rbacGroup, kind: 'User', name: 'alice' }],
      },
    });

    const wide = await auditOf(id, 'ForgedBindingRemoved', (e) => e.details.binding.name === forgedWide);
    expect(wide[0].details).toMatchObject({
      binding: { kind: 'ClusterRoleBinding', name: forgedWide, namespace: null },
      roleRef: { kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'User', name: 'mallory' }],
    });
    await auditOf(id, 'ForgedBindingRemoved', (e) => e.details.binding.name === 'forged-edit');
    expect(await exists(() => rbac.readClusterRoleBinding({ name: forgedWide }))).toBe(false);
    expect(await exists(readBinding('forged-edit', ns))).toBe(false);
    await waitFor(async () => !(await can('mallory', 'delete')));
    await waitFor(async () => !(await can('alice', 'delete', ns)));
    // The grant's own binding stays.
    expect(await exists(readBinding(name, ns))).toBe(true);
    expect(await can('alice', 'list', ns)).toBe(true);
  });

  it("leaves bindings without Elevate's label alone", async () => {
    const ns = uniqueName('drift');
    await createNamespace(kubeconfig, ns);
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'team-owned' },
        roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'view' },
        subjects: [{ apiGroup: rbacGroup, kind: 'User', name: 'erin' }],
      },
    });
    // A labelled stray beside it: once that is gone, drift has looked at this namespace since team-owned
    // existed.
    const requestId = uniqueName('ar-none');
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'stray', labels: elevateLabels(requestId) },
        roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'view' },
        subjects: [{ apiGroup: rbacGroup, kind: 'User', name: 'erin' }],
      },
    });
    await auditOf(requestId, 'OrphanBindingRemoved');
    const pass = await server.as('root').post('/api/v1/reconcile');
    expect(pass.status).toBe(200);
    expect(pass.body.clusters).toEqual([expect.objectContaining({ cluster: 'dev', error: null })]);

    expect(await exists(readBinding('team-owned', ns))).toBe(true);
    expect(await can('erin', 'list', ns)).toBe(true);
  });

  it('goes on with other repairs while one cannot be made, and ends a grant whose namespace is gone', async () => {
    const doomed = await activeGrant();
    const other = await activeGrant();
    // A finalizer keeps the namespace Terminating: its grant's binding is deleted with the namespace's
    // content and cannot be written again (403) for as long as the test wants.
    const namespace = await core.readNamespace({ name: doomed.ns });
    await core.replaceNamespace({
      name: doomed.ns,
      body: { ...namespace, metadata: { ...namespace.metadata, finalizers: ['elevate.test/hold'] } },
    });
    await core.deleteNamespace({ name: doomed.ns });
    await waitFor(async () => !(await exists(readBinding(doomed.name, doomed.ns))), { timeoutMs: 60_000 });

    // Meanwhile, elsewhere on the cluster: a grant's binding deleted, and a stray labelled binding.
    await rbac.deleteNamespacedRoleBinding({ name: other.name, namespace: other.ns });
    const strayId = uniqueName('ar-none');
    await rbac.createNamespacedRoleBinding({
      namespace: other.ns,
      body: {
        metadata: { name: 'stray', labels: elevateLabels(strayId) },
        roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'edit' },
        subjects: [{ apiGroup: rbacGroup, kind: 'User', name: 'mallory' }],
      },
    });
    await auditOf(other.id, 'BindingRestored');
    await auditOf(strayId, 'OrphanBindingRemoved');
    expect((await server.as('root').get(`/api/v1/accessrequests/${doomed.id}`)).body.status.phase).toBe(
      'Active',
    );

    // Once the namespace is really gone, the grant ends rather than being retried until it expires.
    const held = await core.readNamespace({ name: doomed.ns });
    await core.replaceNamespace({
      name: doomed.ns,
      body: { ...held, metadata: { ...held.metadata, finalizers: [] } },
    });
    const ended = await waitFor(
      async () => {
        const r = (await server.as('root').get(`/api/v1/accessrequests/${doomed.id}`)).body;
        return r.status.phase === 'Revoked' ? r : null;
      },
      { timeoutMs: 90_000 },
    );
    expect(ended.status.message).toBe(
      `revoked by system:elevate: namespace ${doomed.ns} on cluster dev was deleted`,
    );
    const [revoked] = await auditOf(doomed.id, 'GrantRevoked');
    expect(revoked).toMatchObject({
      actor: 'system:elevate',
      details: { by: 'system:elevate', reason: `namespace ${doomed.ns} on cluster dev was deleted` },
    });
  });
});
