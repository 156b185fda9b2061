import { existsSync, readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { type ClusterConnection, inCluster } from '../../config/load-config.js';
import { requestLabel } from '../../domain/binding.js';
import { DomainError, Refused, Unavailable } from '../../domain/errors.js';
import type { ManagedBinding } from '../../services/ports.js';
import { createRawDeletes, type DeleteByPath, type DeleteCollection } from './delete-by-path.js';

export interface ClusterClients {
  rbac: k8s.RbacAuthorizationV1Api;
  core: k8s.CoreV1Api;
  /** TokenReview, for auth.kubernetes. */
  authn: k8s.AuthenticationV1Api;
  watch: k8s.Watch;
  /** DELETE of one binding by its API path, on the same pooled connections (delete-by-path.ts). */
  deleteByPath: DeleteByPath;
  /** deletecollection with a label selector, on the same pooled connections. */
  deleteCollection: DeleteCollection;
  /** Where the API server is and the CA that signs it (base64 PEM; null: the system's), for issued kubeconfigs. */
  endpoint: { server: string; caData: string | null };
}

/**
 * API clients for one kubeconfig that share one connection pool. client-node builds a new HTTP
 * dispatcher (and so a new TLS connection) for every call; under a burst of expiries that handshake
 * dominates, so the first dispatcher is kept and reused.
 */
function pooledClients(kc: k8s.KubeConfig) {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  let dispatcher: ReturnType<k8s.RequestContext['getDispatcher']>;
  const auth: k8s.SecurityAuthentication = {
    getName: () => 'kubeconfig, pooled connections',
    async applySecurityAuthentication(context) {
      await kc.applySecurityAuthentication(context);
      dispatcher ??= context.getDispatcher();
      if (dispatcher) context.setDispatcher(dispatcher);
    },
  };
  const configuration = k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(server, {}),
    authMethods: { default: auth },
  });
  const rbac = new k8s.RbacAuthorizationV1Api(configuration);
  return {
    rbac,
    ...createRawDeletes(configuration, auth, rbac),
    core: new k8s.CoreV1Api(configuration),
    authn: new k8s.AuthenticationV1Api(configuration),
  };
}

/**
 * A cluster's kubeconfig: its file, or with `kubeconfig: in-cluster` the pod's own ServiceAccount (the
 * token file the kubelet keeps fresh, the cluster CA, and the API server's address from the environment).
 */
export function loadKubeConfig(cluster: ClusterConnection): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (cluster.kubeconfigPath === inCluster) {
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT)
      throw new Error(
        'KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: not running in a pod',
      );
    kc.loadFromCluster();
    const token = kc.getCurrentUser()?.authProvider?.config?.tokenFile as string;
    for (const file of [token, kc.getCurrentCluster()?.caFile ?? ''])
      if (!existsSync(file))
        throw new Error(`${file} is missing: is the ServiceAccount token mounted in the pod?`);
    return kc;
  }
  kc.loadFromFile(cluster.kubeconfigPath);
  if (cluster.context) {
    if (!kc.getContextObject(cluster.context)) throw new Error(`it has no context ${cluster.context}`);
    kc.setCurrentContext(cluster.context);
  }
  return kc;
}

/** The clients of one kubeconfig. */
export function clientsOf(kc: k8s.KubeConfig): ClusterClients {
  const cluster = kc.getCurrentCluster();
  const caData =
    cluster?.caData ?? (cluster?.caFile ? readFileSync(cluster.caFile).toString('base64') : null);
  return {
    ...pooledClients(kc),
    watch: new k8s.Watch(kc),
    endpoint: { server: cluster?.server ?? '', caData },
  };
}

/** The clients of each configured cluster; a kubeconfig that cannot be used fails the start, naming it. */
export function loadClusterClients(clusters: ClusterConnection[]): Map<string, ClusterClients> {
  const clients = new Map<string, ClusterClients>();
  for (const cluster of clusters) {
    try {
      clients.set(cluster.name, clientsOf(loadKubeConfig(cluster)));
    } catch (e) {
      throw new Error(
        `cluster ${cluster.name}: cannot use kubeconfig ${cluster.kubeconfigPath}: ${(e as Error).message}`,
      );
    }
  }
  return clients;
}

/**
 * Runs one API call with a deadline. The API server's own answers (ApiException) come back as they are,
 * for the caller to treat the ones it expects (404, 409); anything else — no answer, a dropped
 * connection, the deadline — is Unavailable.
 */
export async function callWithin<T>(
  timeoutMs: number,
  cluster: string,
  what: string,
  fn: () => Promise<T>,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Unavailable(`cluster ${cluster}: ${what} timed out`)), timeoutMs);
  });
  try {
    return await Promise.race([fn(), deadline]);
  } catch (e) {
    if (e instanceof k8s.ApiException || e instanceof DomainError) throw e;
    throw new Unavailable(`cluster ${cluster}: ${what} failed: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

export function isStatus(e: unknown, code: number): boolean {
  return e instanceof k8s.ApiException && e.code === code;
}

/**
 * Statuses worth trying again as they are: the server timing out, throttling (429), a write conflict
 * (409) or failing (5xx). Every other refusal (400, 401, 403, 404, 422, …) will be given again to the
 * same call, so it surfaces as Refused rather than being retried forever as an outage.
 */
function isTransient(code: number): boolean {
  return code === 408 || code === 409 || code === 429 || code >= 500;
}

/** A failed call as a domain error, with the API server's message rather than its whole response. */
export function asDomainError(cluster: string, what: string, e: unknown): Error {
  if (e instanceof DomainError) return e;
  if (e instanceof k8s.ApiException) {
    const body = typeof e.body === 'string' ? safeJson(e.body) : e.body;
    return byStatus(
      `cluster ${cluster}: ${what}: ${(body as { message?: string } | undefined)?.message ?? `HTTP ${e.code}`}`,
      e.code,
    );
  }
  // client-node's Watch reports a refused watch as an Error carrying the HTTP status.
  const status = (e as { statusCode?: unknown }).statusCode;
  const message = `cluster ${cluster}: ${what}: ${(e as Error).message}`;
  return typeof status === 'number' ? byStatus(message, status) : new Unavailable(message);
}

function byStatus(message: string, status: number): Error {
  return isTransient(status) ? new Unavailable(message) : new Refused(message, status);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

export function toManaged(cluster: string, b: k8s.V1RoleBinding): ManagedBinding {
  const namespace = b.metadata?.namespace ?? null;
  return {
    ref: {
      cluster,
      kind: namespace === null ? 'ClusterRoleBinding' : 'RoleBinding',
      name: b.metadata?.name ?? '',
      namespace,
    },
    requestId: b.metadata?.labels?.[requestLabel] ?? null,
    roleRef: { kind: b.roleRef.kind as 'ClusterRole' | 'Role', name: b.roleRef.name },
    // Kept as the cluster has them (a Group stays a Group), so a look-alike never passes for Elevate's own.
    subjects: (b.subjects ?? []).map((s) => ({
      kind: s.kind,
      name: s.name,
      ...(s.namespace === undefined ? {} : { namespace: s.namespace }),
    })),
  };
}
