import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { inject } from 'vitest';
import { certificateWriter } from '../../src/testenv/cluster-pki.js';
import { writeKubeconfig } from '../../src/testenv/write-kubeconfig.js';

export interface AccessQuestion {
  user: string;
  groups?: string[];
  verb: string;
  resource: string;
  /** API group; '' (the default) is the core group. */
  group?: string;
  /** Omitted: cluster-wide. */
  namespace?: string;
}

function client<T extends k8s.ApiType>(kubeconfigPath: string, api: k8s.ApiConstructor<T>): T {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return kc.makeApiClient(api);
}

/** An RBAC API client acting as the cluster's admin. */
export function rbacApi(kubeconfigPath: string): k8s.RbacAuthorizationV1Api {
  return client(kubeconfigPath, k8s.RbacAuthorizationV1Api);
}

/** The admin kubeconfig of a cluster of the shared testenv started by test/global-setup.ts. */
export function testKubeconfig(cluster = 'dev'): string {
  const path = inject('kubeconfigs')[cluster];
  if (!path) throw new Error(`no testenv cluster ${cluster}: is this file under test/integration?`);
  return path;
}

/** The kubeconfig Elevate itself uses: its least-privilege ServiceAccount from deploy/elevate-rbac.yaml. */
export function elevateKubeconfig(cluster = 'dev'): string {
  const path = inject('elevateKubeconfigs')[cluster];
  if (!path) throw new Error(`no testenv cluster ${cluster}: is this file under test/integration?`);
  return path;
}

/** Asks the API server itself, as `kubectl auth can-i --as` does. */
export async function canI(kubeconfigPath: string, q: AccessQuestion): Promise<boolean> {
  const review = await client(kubeconfigPath, k8s.AuthorizationV1Api).createSubjectAccessReview({
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: q.user,
        groups: q.groups,
        resourceAttributes: {
          verb: q.verb,
          resource: q.resource,
          group: q.group ?? '',
          namespace: q.namespace,
        },
      },
    },
  });
  return review.status?.allowed === true;
}

export async function createNamespace(kubeconfigPath: string, name: string): Promise<void> {
  await client(kubeconfigPath, k8s.CoreV1Api).createNamespace({ body: { metadata: { name } } });
}

/** A DNS-label name unique to this run, so tests sharing a cluster never see each other's objects. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/**
 * Calls `fn` until it returns something truthy (a throw counts as not yet) and returns that; after
 * `timeoutMs` fails with the last error seen.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `waitFor: timed out after ${timeoutMs}ms`,
        lastError ? { cause: lastError } : undefined,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Where a testenv cluster keeps its files (its PKI under pki/), its name and its API server. */
export interface ClusterFiles {
  dir: string;
  name: string;
  server: string;
}

/** A cluster of the shared testenv, for minting people's kubeconfigs. */
export function sharedCluster(name = 'dev'): ClusterFiles {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testKubeconfig(name));
  return { dir: join(inject('testenvDir'), name), name, server: kc.getCurrentCluster()?.server ?? '' };
}

/**
 * A kubeconfig for `user` in `groups`: a client certificate signed by the cluster's CA (CN the user, O each
 * group), as kubeadm makes them. Kubernetes sees exactly this user; no impersonation involved.
 */
export async function userKubeconfig(cluster: ClusterFiles, user: string, groups: string[]): Promise<string> {
  const pki = join(cluster.dir, 'pki');
  const newCert = await certificateWriter(pki, { caCert: join(pki, 'ca.crt'), caKey: join(pki, 'ca.key') });
  const [cert, key] = [join(pki, `${user}.crt`), join(pki, `${user}.key`)];
  await newCert(
    `/CN=${user}${groups.map((g) => `/O=${g}`).join('')}`,
    cert,
    key,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=clientAuth',
    ],
    true,
  );
  const path = join(cluster.dir, `${user}.kubeconfig`);
  await writeKubeconfig({
    path,
    name: cluster.name,
    user,
    server: cluster.server,
    caFile: join(pki, 'ca.crt'),
    certFile: cert,
    keyFile: key,
  });
  return path;
}
