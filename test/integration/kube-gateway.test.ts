import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { createKubeClusterGateway } from '../../src/adapters/kube/kube-cluster-gateway.js';
import { type DesiredBinding, desiredBindings } from '../../src/domain/binding.js';
import { Refused, Unavailable } from '../../src/domain/errors.js';
import { accessRequest } from '../support/fixtures.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  rbacApi,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';
import { elevateRulesWithout, limitedIdentity } from '../support/limited-identity.js';

const rbacGroup = 'rbac.authorization.k8s.io';
let kubeconfig: string;
let rbac: k8s.RbacAuthorizationV1Api;

beforeAll(() => {
  kubeconfig = testKubeconfig('dev');
  rbac = rbacApi(kubeconfig);
});

const gatewayAs = (kubeconfigPath: string) =>
  createKubeClusterGateway([{ name: 'dev', kubeconfigPath }], 5_000);

/** The binding Elevate wants for alice's `view` grant in `namespace`. */
function aliceView(namespace: string) {
  const request = accessRequest({ id: uniqueName('ar'), target: { role: 'view', namespace } });
  return desiredBindings(request, null)[0] as DesiredBinding;
}

describe('the kube cluster gateway', () => {
  it('does not report a binding as replaced while something else still holds its name', async () => {
    const ns = uniqueName('gw');
    await createNamespace(kubeconfig, ns);
    const binding = aliceView(ns);
    // Someone's binding under Elevate's name that a finalizer keeps after deletion: Elevate's delete only
    // marks it, so its create meets 409 while the old binding still grants admin.
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: binding.ref.name, finalizers: ['elevate.test/hold'] },
        roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'admin' },
        subjects: [{ apiGroup: rbacGroup, kind: 'User', name: 'alice' }],
      },
    });
    const gateway = gatewayAs(elevateKubeconfig('dev'));

    await expect(gateway.applyBinding('dev', binding)).rejects.toBeInstanceOf(Unavailable);

    const held = await rbac.readNamespacedRoleBinding({ name: binding.ref.name, namespace: ns });
    await rbac.replaceNamespacedRoleBinding({
      name: binding.ref.name,
      namespace: ns,
      body: { ...held, metadata: { ...held.metadata, finalizers: [] } },
    });
    expect(await waitFor(() => gateway.applyBinding('dev', binding))).toBe('created');
    await waitFor(async () => {
      const now = await rbac.readNamespacedRoleBinding({ name: binding.ref.name, namespace: ns });
      return now.roleRef.name === 'view';
    });
    await waitFor(
      async () =>
        !(await canI(kubeconfig, { user: 'alice', verb: 'delete', resource: 'pods', namespace: ns })),
    );
  });

  it('reports what the API server refuses for good as Refused, with its status', async () => {
    const gateway = gatewayAs(elevateKubeconfig('dev'));
    const missing = gateway.applyBinding('dev', aliceView(uniqueName('no-such-ns')));
    await expect(missing).rejects.toBeInstanceOf(Refused);
    await expect(missing).rejects.toMatchObject({ status: 404 });

    const ns = uniqueName('gw');
    await createNamespace(kubeconfig, ns);
    // RBAC refuses a subject without a name (422 Invalid).
    const nameless = { ...aliceView(ns), subjects: [{ kind: 'User' as const, name: '' }] };
    await expect(gateway.applyBinding('dev', nameless)).rejects.toMatchObject({
      name: 'Refused',
      status: 422,
    });

    const cannotList = gatewayAs((await limitedIdentity(kubeconfig, elevateRulesWithout('list'))).kubeconfig);
    const forbidden = cannotList.listManagedBindings('dev');
    await expect(forbidden).rejects.toBeInstanceOf(Refused);
    await expect(forbidden).rejects.toMatchObject({ status: 403 });
  });

  it('reports a cluster it cannot reach as Unavailable', async () => {
    const path = join(tmpdir(), `${uniqueName('nowhere')}.kubeconfig`);
    writeFileSync(
      path,
      `apiVersion: v1
kind: Config
clusters: [{ name: nowhere, cluster: { server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true } }]
users: [{ name: nobody, user: { token: t } }]
contexts: [{ name: nowhere, context: { cluster: nowhere, user: nobody } }]
current-context: nowhere
`,
    );
    await expect(gatewayAs(path).listManagedBindings('dev')).rejects.toBeInstanceOf(Unavailable);
  });
});
