import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
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
): Promise<{ code: number; out: string }> {
  kubectl ??= (await resolveKubeBinaries(undefined, () => {})).kubectl;
  const file = join(dir, `${uniqueName('obj')}.yaml`);
  if (yaml) writeFileSync(file, yaml);
  try {
    const { stdout, stderr } = await promisify(execFile)(kubectl, [
      '--kubeconfig',
      kubeconfig,
      ...args,
      ...(yaml ? ['-f', file] : []),
    ]);
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
export async function letPeopleAsk(cluster = 'dev'): Promise<void> {
  const rbac = `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: elevate-people, namespace: elevate }
rules:
  - apiGroups: [elevate.dev]
    resources: [accessrequests, accessapprovals]
    verbs: [create, get, list, watch, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: elevate-people, namespace: elevate }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: elevate-people }
subjects:
  - { apiGroup: rbac.authorization.k8s.io, kind: Group, name: devs }
  - { apiGroup: rbac.authorization.k8s.io, kind: Group, name: sre-leads }
`;
  const applied = await kubectlWith(testKubeconfig(cluster), ['apply'], rbac);
  if (applied.code !== 0) throw new Error(applied.out);
}
