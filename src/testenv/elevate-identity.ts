import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { repoRoot } from './kube-binaries.js';

const namespace = 'elevate-system';
const serviceAccount = 'elevate';
// A testenv lives for a session or a CI run; a week of validity outlasts both.
const tokenSeconds = 7 * 24 * 3600;

/**
 * Applies deploy/elevate-rbac.yaml (Elevate's least-privilege identity) and writes a kubeconfig that
 * authenticates as that ServiceAccount with a TokenRequest token, so tests and the demo run Elevate with
 * exactly the rights a real installation gives it — not as cluster-admin.
 */
export async function installElevateIdentity(adminKubeconfigPath: string, outPath: string): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(adminKubeconfigPath);
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const manifest = await readFile(join(repoRoot(), 'deploy/elevate-rbac.yaml'), 'utf8');
  for (const doc of parseAllDocuments(manifest)) {
    const spec = doc.toJS() as k8s.KubernetesObject;
    try {
      await objects.create(spec);
    } catch (e) {
      if (!(e instanceof k8s.ApiException && e.code === 409)) throw e;
    }
  }
  const token = await kc.makeApiClient(k8s.CoreV1Api).createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { expirationSeconds: tokenSeconds, audiences: [] } },
  });
  const cluster = kc.getCurrentCluster();
  if (!cluster || !token.status?.token) throw new Error(`no cluster or token for ${adminKubeconfigPath}`);
  const name = kc.getCurrentContext();
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } }],
    users: [{ name: `${name}-elevate`, user: { token: token.status.token } }],
    contexts: [{ name, context: { cluster: name, user: `${name}-elevate` } }],
    'current-context': name,
  };
  await writeFile(outPath, stringify(config), { mode: 0o600 });
}
