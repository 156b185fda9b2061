import type * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { activeViewGrant, auditEvents, type RunningElevate, startElevate } from '../support/elevate.js';
import { canI, rbacApi, testKubeconfig, waitFor } from '../support/kube.js';
import { type ProxiedCluster, proxiedCluster } from '../support/proxied-cluster.js';

let server: RunningElevate;
let proxy: ProxiedCluster;
let kubeconfig: string;
let rbac: k8s.RbacAuthorizationV1Api;

beforeAll(async () => {
  kubeconfig = testKubeconfig('dev2');
  rbac = rbacApi(kubeconfig);
  // Elevate reaches the API server through a proxy the test can cut; the test itself goes direct.
  proxy = await proxiedCluster('dev2');
  // The periodic pass is 10 minutes away: the repairs below can only come from the watch.
  server = await startElevate({ clusters: { dev2: proxy.kubeconfig }, reconcileInterval: '10m' });
});

afterAll(async () => {
  await server?.stop();
  await proxy?.cut();
});

const activeGrant = () => activeViewGrant(server, { kubeconfig, cluster: 'dev2', prefix: 'watch' });

const restored = (id: string) =>
  waitFor(async () =>
    (await auditEvents(server)).some((e) => e.action === 'BindingRestored' && e.requestId === id),
  );

describe('the drift watch', () => {
  it('still repairs after the cluster has been quiet past client-node’s idle limit', {
    timeout: 120_000,
  }, async () => {
    const { ns, id, name } = await activeGrant();
    // client-node gives up on a watch that hears nothing for 30 s, and the API server ends each of Elevate's
    // watches after 20 s (binding-watch.ts): 45 s of quiet spans the idle limit and two such ends, each
    // followed by a resumed watch.
    await new Promise((resolve) => setTimeout(resolve, 45_000));

    await rbac.deleteNamespacedRoleBinding({ name, namespace: ns });

    await restored(id);
    await waitFor(() => canI(kubeconfig, { user: 'alice', verb: 'list', resource: 'pods', namespace: ns }));
  });

  it('sees a deletion made while its connection was cut, once it reconnects', async () => {
    const { ns, id, name } = await activeGrant();
    await proxy.cut();
    try {
      await rbac.deleteNamespacedRoleBinding({ name, namespace: ns });
    } finally {
      await proxy.restore();
    }
    // The watch resumes from the last resourceVersion it saw, so the deletion is delivered late, not lost.
    await restored(id);
    await waitFor(() => canI(kubeconfig, { user: 'alice', verb: 'list', resource: 'pods', namespace: ns }));
  });
});
