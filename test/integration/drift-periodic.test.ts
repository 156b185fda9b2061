import type * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeViewGrant, auditEvents, type RunningElevate, startElevate } from '../support/elevate.js';
import { canI, rbacApi, testKubeconfig, uniqueName, waitFor } from '../support/kube.js';
import { elevateRulesWithout, limitedIdentity } from '../support/limited-identity.js';

const rbacGroup = 'rbac.authorization.k8s.io';
let server: RunningElevate;
let kubeconfig: string;
let rbac: k8s.RbacAuthorizationV1Api;

beforeAll(async () => {
  kubeconfig = testKubeconfig('dev2');
  rbac = rbacApi(kubeconfig);
  // Elevate's rights minus `watch`: its watch is refused on every try, so whatever is repaired here is
  // repaired by the periodic pass alone.
  const identity = await limitedIdentity(kubeconfig, elevateRulesWithout('watch'));
  for (const resource of ['rolebindings', 'clusterrolebindings']) {
    expect(await canI(kubeconfig, { user: identity.user, verb: 'watch', resource, group: rbacGroup })).toBe(
      false,
    );
  }
  server = await startElevate({ clusters: { dev2: identity.kubeconfig }, reconcileInterval: '1s' });
});

afterAll(async () => {
  await server?.stop();
});

const auditOf = (requestId: string, action: string) =>
  waitFor(async () => {
    const found = (await auditEvents(server)).filter((e) => e.action === action && e.requestId === requestId);
    return found.length > 0 ? found : null;
  });

describe('the periodic drift pass, with no watch to help', () => {
  it('recreates a deleted binding and removes a stray labelled one', async () => {
    const { ns, id } = await activeViewGrant(server, { kubeconfig, cluster: 'dev2', prefix: 'periodic' });
    const strayId = uniqueName('ar-none');

    await rbac.deleteNamespacedRoleBinding({ name: `elevate-${id}`, namespace: ns });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: {
          name: 'stray',
          labels: { 'app.kubernetes.io/managed-by': 'elevate', 'elevate.dev/request': strayId },
        },
        roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'edit' },
        subjects: [{ apiGroup: rbacGroup, kind: 'User', name: 'mallory' }],
      },
    });

    await auditOf(id, 'BindingRestored');
    await auditOf(strayId, 'OrphanBindingRemoved');
    await waitFor(() => canI(kubeconfig, { user: 'alice', verb: 'list', resource: 'pods', namespace: ns }));
    await waitFor(
      async () =>
        !(await canI(kubeconfig, { user: 'mallory', verb: 'get', resource: 'pods', namespace: ns })),
    );
  });
});
