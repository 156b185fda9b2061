import * as k8s from '@kubernetes/client-node';
import type { ClusterConfig } from '../../config/load-config.js';
import type { BindingRef } from '../../domain/access-request.js';
import { grantsSameAccess, managedByLabel, managedByValue, requestLabel } from '../../domain/binding.js';
import { NotFound, Unavailable } from '../../domain/errors.js';
import { backoffMs } from '../../jobs/backoff.js';
import type { ClusterGateway, ManagedBinding } from '../../services/ports.js';

const rbacGroup = 'rbac.authorization.k8s.io';
const managedSelector = `${managedByLabel}=${managedByValue}`;

interface ClusterClients {
  rbac: k8s.RbacAuthorizationV1Api;
  core: k8s.CoreV1Api;
  watch: k8s.Watch;
}

const bindingPaths = [
  '/apis/rbac.authorization.k8s.io/v1/rolebindings',
  '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
];

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
  return {
    rbac: new k8s.RbacAuthorizationV1Api(configuration),
    core: new k8s.CoreV1Api(configuration),
  };
}

/** Talks RBAC to real clusters through @kubernetes/client-node. Unreachable clusters surface as Unavailable. */
export function createKubeClusterGateway(clusters: ClusterConfig[], timeoutMs = 10_000): ClusterGateway {
  const clients = new Map<string, ClusterClients>();
  for (const cluster of clusters) {
    try {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(cluster.kubeconfigPath);
      if (cluster.context) {
        if (!kc.getContextObject(cluster.context)) throw new Error(`it has no context ${cluster.context}`);
        kc.setCurrentContext(cluster.context);
      }
      clients.set(cluster.name, { ...pooledClients(kc), watch: new k8s.Watch(kc) });
    } catch (e) {
      throw new Error(
        `cluster ${cluster.name}: cannot use kubeconfig ${cluster.kubeconfigPath}: ${(e as Error).message}`,
      );
    }
  }

  function clientsFor(cluster: string): ClusterClients {
    const c = clients.get(cluster);
    if (!c) throw new NotFound(`unknown cluster ${cluster}`);
    return c;
  }

  /** Runs one API call with a deadline, turning transport failures into Unavailable. */
  async function call<T>(cluster: string, what: string, fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Unavailable(`cluster ${cluster}: ${what} timed out`)), timeoutMs);
    });
    try {
      return await Promise.race([fn(), deadline]);
    } catch (e) {
      if (e instanceof k8s.ApiException || e instanceof Unavailable) throw e;
      throw new Unavailable(`cluster ${cluster}: ${what} failed: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async function readBinding(cluster: string, ref: BindingRef): Promise<k8s.V1RoleBinding | null> {
    const { rbac } = clientsFor(cluster);
    try {
      return await call(cluster, `read ${ref.kind} ${ref.name}`, () =>
        ref.namespace === null
          ? rbac.readClusterRoleBinding({ name: ref.name })
          : rbac.readNamespacedRoleBinding({ name: ref.name, namespace: ref.namespace }),
      );
    } catch (e) {
      if (isStatus(e, 404)) return null;
      throw asDomainError(cluster, e);
    }
  }

  return {
    async applyBinding(cluster, binding) {
      const { rbac } = clientsFor(cluster);
      const { ref } = binding;
      const body: k8s.V1RoleBinding = {
        apiVersion: `${rbacGroup}/v1`,
        kind: ref.kind,
        metadata: {
          name: ref.name,
          ...(ref.namespace === null ? {} : { namespace: ref.namespace }),
          labels: binding.labels,
          annotations: binding.annotations,
        },
        roleRef: { apiGroup: rbacGroup, kind: binding.roleRef.kind, name: binding.roleRef.name },
        subjects: binding.subjects.map((s) => ({ apiGroup: rbacGroup, kind: s.kind, name: s.name })),
      };
      const existing = await readBinding(cluster, ref);
      if (existing && grantsSameAccess(toManaged(existing), binding)) {
        return 'unchanged';
      }
      try {
        if (existing) {
          // roleRef is immutable in RBAC: a binding pointing elsewhere is deleted and written anew.
          await deleteRef(cluster, ref);
        }
        await call(cluster, `create ${ref.kind} ${ref.name}`, () =>
          ref.namespace === null
            ? rbac.createClusterRoleBinding({ body })
            : rbac.createNamespacedRoleBinding({ namespace: ref.namespace, body }),
        );
        return existing ? 'updated' : 'created';
      } catch (e) {
        if (isStatus(e, 409)) return 'unchanged';
        throw asDomainError(cluster, e);
      }
    },

    async deleteBinding(cluster, ref) {
      try {
        await deleteRef(cluster, ref);
        return 'deleted';
      } catch (e) {
        if (isStatus(e, 404)) return 'absent';
        throw asDomainError(cluster, e);
      }
    },

    async listManagedBindings(cluster) {
      const { rbac } = clientsFor(cluster);
      try {
        const [namespaced, clusterWide] = await Promise.all([
          call(cluster, 'list RoleBindings', () =>
            rbac.listRoleBindingForAllNamespaces({ labelSelector: managedSelector }),
          ),
          call(cluster, 'list ClusterRoleBindings', () =>
            rbac.listClusterRoleBinding({ labelSelector: managedSelector }),
          ),
        ]);
        return [
          ...namespaced.items.map((b) => toManaged({ ...b, kind: 'RoleBinding' })),
          ...clusterWide.items.map((b) => toManaged({ ...b, kind: 'ClusterRoleBinding' })),
        ];
      } catch (e) {
        throw asDomainError(cluster, e);
      }
    },

    watchManagedBindings(cluster, onEvent, onError) {
      const { watch } = clientsFor(cluster);
      let stopped = false;
      const aborts = new Set<AbortController>();
      const watchPath = (path: string, failures: number): void => {
        if (stopped) return;
        const again = (err: unknown) => {
          if (stopped) return;
          if (err)
            onError(new Unavailable(`cluster ${cluster}: watch ${path}: ${(err as Error).message ?? err}`));
          // A watch the server closed normally is resumed at once; a failing one backs off.
          const delay = err ? backoffMs(failures + 1) : 0;
          setTimeout(() => watchPath(path, err ? failures + 1 : 0), delay);
        };
        watch
          .watch(
            path,
            { labelSelector: managedSelector },
            (type: string, object: k8s.V1RoleBinding) => {
              if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED')
                onEvent(type, toManaged(object));
            },
            (err) => again(err),
          )
          .then((abort) => {
            if (stopped) abort.abort();
            else aborts.add(abort);
          })
          .catch(again);
      };
      for (const path of bindingPaths) watchPath(path, 0);
      return {
        stop() {
          stopped = true;
          for (const a of aborts) a.abort();
        },
      };
    },

    async roleExists(cluster, kind, name, namespace) {
      const { rbac } = clientsFor(cluster);
      try {
        await call(cluster, `read ${kind} ${name}`, () =>
          kind === 'ClusterRole'
            ? rbac.readClusterRole({ name })
            : rbac.readNamespacedRole({ name, namespace: namespace ?? '' }),
        );
        return true;
      } catch (e) {
        if (isStatus(e, 404)) return false;
        throw asDomainError(cluster, e);
      }
    },

    async namespaceExists(cluster, namespace) {
      const { core } = clientsFor(cluster);
      try {
        await call(cluster, `read namespace ${namespace}`, () => core.readNamespace({ name: namespace }));
        return true;
      } catch (e) {
        if (isStatus(e, 404)) return false;
        throw asDomainError(cluster, e);
      }
    },
  };

  async function deleteRef(cluster: string, ref: BindingRef): Promise<void> {
    const { rbac } = clientsFor(cluster);
    await call(cluster, `delete ${ref.kind} ${ref.name}`, () =>
      ref.namespace === null
        ? rbac.deleteClusterRoleBinding({ name: ref.name })
        : rbac.deleteNamespacedRoleBinding({ name: ref.name, namespace: ref.namespace }),
    );
  }
}

function toManaged(b: k8s.V1RoleBinding): ManagedBinding {
  const namespace = b.metadata?.namespace ?? null;
  return {
    ref: {
      kind: namespace === null ? 'ClusterRoleBinding' : 'RoleBinding',
      name: b.metadata?.name ?? '',
      namespace,
    },
    requestId: b.metadata?.labels?.[requestLabel] ?? null,
    roleRef: { kind: b.roleRef.kind as 'ClusterRole' | 'Role', name: b.roleRef.name },
    subjects: (b.subjects ?? []).map((s) => ({ kind: s.kind as 'User', name: s.name })),
  };
}

function isStatus(e: unknown, code: number): boolean {
  return e instanceof k8s.ApiException && e.code === code;
}

/** API errors other than the expected ones mean the cluster refused; report them without the response body's noise. */
function asDomainError(cluster: string, e: unknown): Error {
  if (e instanceof k8s.ApiException) {
    const body = typeof e.body === 'string' ? safeJson(e.body) : e.body;
    const message = (body as { message?: string } | undefined)?.message ?? `HTTP ${e.code}`;
    return new Unavailable(`cluster ${cluster}: ${message}`);
  }
  return e as Error;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}
