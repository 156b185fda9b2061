import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { resolveKubeBinaries } from '../../src/testenv/kube-binaries.js';
import { testKubeconfig, uniqueName } from './kube.js';

const repo = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'elevate-kubectl-'));
let kubectl: string | undefined;

/** kubectl with `kubeconfig`, `yaml` passed as a file when given: its exit code and everything it printed. */
export async function kubectlWith(
  kubeconfig: string,
  args: string[],
  yaml?: string,
  env: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  kubectl ??= (await resolveKubeBinaries(undefined, () => {})).kubectl;
  const file = join(dir, `${uniqueName('obj')}.yaml`);
  if (yaml) writeFileSync(file, yaml);
  try {
    const { stdout, stderr } = await promisify(execFile)(
      kubectl,
      ['--kubeconfig', kubeconfig, ...args, ...(yaml ? ['-f', file] : [])],
      { env: { ...process.env, ...env } },
    );
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

/** `kubectl apply -f deploy/kubernetes/` as the cluster's admin, then waits for the CRDs to be served. */
export async function applyHomeManifests(cluster = 'dev'): Promise<void> {
  const admin = testKubeconfig(cluster);
  const applied = await kubectlWith(admin, ['apply', '-f', join(repo, 'deploy/kubernetes/')]);
  if (applied.code !== 0) throw new Error(applied.out);
  const crds = ['accesspolicies', 'accessprofiles', 'accessrequests', 'accessapprovals'];
  const established = await kubectlWith(admin, [
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...crds.map((p) => `crd/${p}.elevate.dev`),
  ]);
  if (established.code !== 0) throw new Error(established.out);
}

/** Lets the test people (groups devs and sre-leads) make AccessRequests and AccessApprovals in the home namespace. */
export async function letPeopleAsk(cluster = 'dev', namespace = 'elevate'): Promise<void> {
  const rbac = `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: elevate-people, namespace: ${namespace} }
rules:
  - apiGroups: [elevate.dev]
    resources: [accessrequests, accessapprovals]
    verbs: [create, get, list, watch, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: elevate-people, namespace: ${namespace} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: elevate-people }
subjects:
  - { apiGroup: rbac.authorization.k8s.io, kind: Group, name: devs }
  - { apiGroup: rbac.authorization.k8s.io, kind: Group, name: sre-leads }
`;
  const applied = await kubectlWith(testKubeconfig(cluster), ['apply'], rbac);
  if (applied.code !== 0) throw new Error(applied.out);
}

/**
 * A kubeconfig that acts as a ServiceAccount with a TokenRequest token, as a pod of that ServiceAccount
 * would (kubectl create token).
 */
export async function serviceAccountKubeconfig(
  cluster: string,
  namespace: string,
  name: string,
): Promise<string> {
  const admin = testKubeconfig(cluster);
  const token = await kubectlWith(admin, ['create', 'token', name, '-n', namespace, '--duration=1h']);
  if (token.code !== 0) throw new Error(token.out);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(admin);
  const server = kc.getCurrentCluster();
  if (!server) throw new Error(`${admin} has no current cluster`);
  const path = join(dir, `${uniqueName(name)}.kubeconfig`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: cluster, cluster: { server: server.server, 'certificate-authority-data': server.caData } },
    ],
    users: [{ name, user: { token: token.out.trim() } }],
    contexts: [{ name: cluster, context: { cluster, user: name } }],
    'current-context': cluster,
  };
  writeFileSync(path, stringify(config), { mode: 0o600 });
  return path;
}
