import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { uniqueName } from './kube.js';

/**
 * A ServiceAccount holding exactly `rules` cluster-wide, and a kubeconfig that authenticates as it — to run
 * Elevate (or its cluster gateway) with fewer rights than deploy/elevate-rbac.yaml gives, e.g. without
 * `watch`, against the real API server's authorizer.
 */
export async function limitedIdentity(
  adminKubeconfig: string,
  rules: k8s.V1PolicyRule[],
): Promise<{ kubeconfig: string; user: string }> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const name = uniqueName('limited');
  const namespace = 'default';
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await rbac.createClusterRole({ body: { metadata: { name }, rules } });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  });
  const token = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { expirationSeconds: 3600, audiences: [] } },
  });
  const cluster = kc.getCurrentCluster();
  if (!cluster || !token.status?.token) throw new Error(`no cluster or token for ${adminKubeconfig}`);
  const path = join(tmpdir(), `${name}.kubeconfig`);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name, cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } }],
      users: [{ name, user: { token: token.status.token } }],
      contexts: [{ name, context: { cluster: name, user: name } }],
      'current-context': name,
    }),
    { mode: 0o600 },
  );
  return { kubeconfig: path, user: `system:serviceaccount:${namespace}:${name}` };
}

/** The rules of deploy/elevate-rbac.yaml's elevate:controller, minus the verbs given. */
export function elevateRulesWithout(...verbs: string[]): k8s.V1PolicyRule[] {
  const drop = (list: string[]) => list.filter((v) => !verbs.includes(v));
  return [
    {
      apiGroups: ['rbac.authorization.k8s.io'],
      resources: ['rolebindings', 'clusterrolebindings'],
      verbs: drop(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']),
    },
    {
      apiGroups: ['rbac.authorization.k8s.io'],
      resources: ['roles', 'clusterroles'],
      verbs: drop(['get', 'list', 'watch', 'bind']),
    },
    { apiGroups: [''], resources: ['namespaces'], verbs: drop(['get', 'list', 'watch']) },
  ];
}
