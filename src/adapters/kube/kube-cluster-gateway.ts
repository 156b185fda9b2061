import * as k8s from '@kubernetes/client-node';
import type { ClusterConnection } from '../../config/load-config.js';
import type { BindingRef } from '../../domain/access-request.js';
import { grantsSameAccess, managedByLabel, managedByValue, requestLabel } from '../../domain/binding.js';
import { NotFound, Refused, Unavailable } from '../../domain/errors.js';
import type { ClusterGateway } from '../../services/ports.js';
import { createBindingDeleter } from './binding-deleter.js';
import { watchBindings } from './binding-watch.js';
import { CollectionDeleteUnsupported } from './delete-by-path.js';
import {
  asDomainError,
  type ClusterClients,
  callWithin,
  clientsOf,
  isStatus,
  loadClusterClients,
  toManaged,
} from './kube-clients.js';
import { serviceAccountOps } from './service-accounts.js';

const rbacGroup = 'rbac.authorization.k8s.io';
const managedSelector = `${managedByLabel}=${managedByValue}`;
/** How often applyBinding reads, deletes and creates again while someone else keeps writing the same name. */
const applyAttempts = 3;

export interface KubeClusterGateway extends ClusterGateway {
  /** Talks to the cluster with this kubeconfig from now on: a cluster added, or its credentials changed. */
  connect(cluster: string, kubeconfig: k8s.KubeConfig): void;
  /**
   * A cluster Elevate no longer manages: its connection stays (its grants' bindings must still be removed)
   * but no binding is written there any more.
   */
  retire(cluster: string): void;
}

/**
 * Talks RBAC to real clusters through @kubernetes/client-node. A cluster that cannot be reached, or answers
 * that it is busy or failing, surfaces as Unavailable (try again); one that refuses for good (forbidden,
 * invalid, not found) as Refused.
 */
export function createKubeClusterGateway(
  clusters: ClusterConnection[],
  timeoutMs = 10_000,
): KubeClusterGateway {
  const clients = loadClusterClients(clusters);
  const retired = new Set<string>();

  /** Writes are refused for good on a retired cluster: the grant that wanted one ends, saying why. */
  function writable(cluster: string): void {
    if (retired.has(cluster)) {
      throw new Refused(
        `cluster ${cluster} is no longer managed by Elevate (its cluster Secret was removed)`,
        410,
      );
    }
  }

  function clientsFor(cluster: string): ClusterClients {
    const c = clients.get(cluster);
    if (!c) throw new NotFound(`unknown cluster ${cluster}`);
    return c;
  }

  /** One API call; its failures as domain errors. */
  async function call<T>(cluster: string, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await callWithin(timeoutMs, cluster, what, fn);
    } catch (e) {
      throw asDomainError(cluster, what, e);
    }
  }

  /** One API call where the status `accept` (404: not there, 409: already there) is an answer: null. */
  async function callAccepting<T>(cluster: string, what: string, fn: () => Promise<T>, accept: number) {
    try {
      return await callWithin(timeoutMs, cluster, what, fn);
    } catch (e) {
      if (isStatus(e, accept)) return null;
      throw asDomainError(cluster, what, e);
    }
  }

  function readBinding(cluster: string, ref: BindingRef): Promise<k8s.V1RoleBinding | null> {
    const { rbac } = clientsFor(cluster);
    return callAccepting(
      cluster,
      `read ${ref.kind} ${ref.name}`,
      () =>
        ref.namespace === null
          ? rbac.readClusterRoleBinding({ name: ref.name })
          : rbac.readNamespacedRoleBinding({ name: ref.name, namespace: ref.namespace }),
      404,
    );
  }

  /** Deletes the binding; false when it was not there. */
  async function deleteRef(cluster: string, ref: BindingRef): Promise<boolean> {
    const { deleteByPath } = clientsFor(cluster);
    const name = encodeURIComponent(ref.name);
    const path =
      ref.namespace === null
        ? `/apis/${rbacGroup}/v1/clusterrolebindings/${name}`
        : `/apis/${rbacGroup}/v1/namespaces/${encodeURIComponent(ref.namespace)}/rolebindings/${name}`;
    return (await call(cluster, `delete ${ref.kind} ${ref.name}`, () => deleteByPath(path))) === 'deleted';
  }

  /** Per cluster: deletions of ending requests' bindings, gathered into deletecollections. */
  const deleters = new Map<string, ReturnType<typeof createBindingDeleter>>();
  function deleterFor(cluster: string) {
    let deleter = deleters.get(cluster);
    if (!deleter) {
      const { deleteCollection } = clientsFor(cluster);
      deleter = createBindingDeleter({
        deleteOne: (ref) => deleteRef(cluster, ref).then((d) => (d ? 'deleted' : 'absent')),
        async deleteMany(namespace, requestIds) {
          const path =
            namespace === null
              ? `/apis/${rbacGroup}/v1/clusterrolebindings`
              : `/apis/${rbacGroup}/v1/namespaces/${encodeURIComponent(namespace)}/rolebindings`;
          const selector = `${managedSelector},${requestLabel} in (${requestIds.join(',')})`;
          const what = `delete ${requestIds.length} bindings${namespace === null ? '' : ` in ${namespace}`}`;
          try {
            return await callWithin(timeoutMs, cluster, what, () => deleteCollection(path, selector));
          } catch (e) {
            // An identity from an older deploy/elevate-rbac.yaml, without deletecollection: one by one.
            if (isStatus(e, 403) || e instanceof CollectionDeleteUnsupported) return 'unsupported';
            throw asDomainError(cluster, what, e);
          }
        },
      });
      deleters.set(cluster, deleter);
    }
    return deleter;
  }

  /** Creates the binding; false when one of that name exists (someone wrote it since it was read). */
  async function createRef(cluster: string, ref: BindingRef, body: k8s.V1RoleBinding): Promise<boolean> {
    const { rbac } = clientsFor(cluster);
    const created = await callAccepting(
      cluster,
      `create ${ref.kind} ${ref.name}`,
      () =>
        ref.namespace === null
          ? rbac.createClusterRoleBinding({ body })
          : rbac.createNamespacedRoleBinding({ namespace: ref.namespace, body }),
      409,
    );
    return created !== null;
  }

  /** The namespace's live labels; null when it does not exist. */
  async function readNamespaceLabels(cluster: string, namespace: string) {
    const { core } = clientsFor(cluster);
    const found = await callAccepting(
      cluster,
      `read namespace ${namespace}`,
      () => core.readNamespace({ name: namespace }),
      404,
    );
    return found === null ? null : { ...(found.metadata?.labels ?? {}) };
  }

  const accounts = serviceAccountOps(clientsFor, call, callAccepting);

  return {
    ...accounts,

    applyServiceAccount(cluster, account) {
      writable(cluster);
      return accounts.applyServiceAccount(cluster, account);
    },

    connect(cluster, kubeconfig) {
      clients.set(cluster, clientsOf(kubeconfig));
      deleters.delete(cluster);
      retired.delete(cluster);
    },

    retire(cluster) {
      retired.add(cluster);
    },

    async applyBinding(cluster, binding) {
      writable(cluster);
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
        subjects: binding.subjects.map((s) =>
          s.kind === 'ServiceAccount'
            ? { apiGroup: '', kind: s.kind, name: s.name, namespace: s.namespace }
            : { apiGroup: rbacGroup, kind: s.kind, name: s.name },
        ),
      };
      let first: 'created' | 'updated' | undefined;
      for (let attempt = 0; attempt < applyAttempts; attempt++) {
        // What exists is read again after a 409: whatever took the name meanwhile is judged like anything else.
        const existing = await readBinding(cluster, ref);
        if (existing && grantsSameAccess(toManaged(cluster, existing), binding)) return first ?? 'unchanged';
        first ??= existing ? 'updated' : 'created';
        // roleRef is immutable in RBAC: a binding pointing elsewhere is deleted and written anew.
        if (existing) await deleteRef(cluster, ref);
        if (await createRef(cluster, ref, body)) return first;
      }
      // Still something else under that name: one being deleted (a finalizer holds it) or a writer that
      // keeps putting it back. Not done, so not reported as done; the caller retries.
      throw new Unavailable(
        `cluster ${cluster}: ${ref.kind} ${ref.name} still grants something else after ${applyAttempts} attempts to replace it`,
      );
    },

    async annotateBinding(cluster, ref, annotations) {
      writable(cluster);
      const { rbac } = clientsFor(cluster);
      // A JSON merge patch of metadata only: the binding keeps its uid, and what it grants never lapses.
      const body = { metadata: { annotations } };
      const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
      const patched = await callAccepting(
        cluster,
        `annotate ${ref.kind} ${ref.name}`,
        () =>
          ref.namespace === null
            ? rbac.patchClusterRoleBinding({ name: ref.name, body }, mergePatch)
            : rbac.patchNamespacedRoleBinding({ name: ref.name, namespace: ref.namespace, body }, mergePatch),
        404,
      );
      return patched === null ? 'absent' : 'updated';
    },

    async deleteBinding(cluster, ref, endingRequest) {
      if (endingRequest) return deleterFor(cluster).delete(ref, endingRequest);
      return (await deleteRef(cluster, ref)) ? 'deleted' : 'absent';
    },

    async listManagedBindings(cluster) {
      const { rbac } = clientsFor(cluster);
      const [namespaced, clusterWide] = await Promise.all([
        call(cluster, 'list RoleBindings', () =>
          rbac.listRoleBindingForAllNamespaces({ labelSelector: managedSelector }),
        ),
        call(cluster, 'list ClusterRoleBindings', () =>
          rbac.listClusterRoleBinding({ labelSelector: managedSelector }),
        ),
      ]);
      return [
        ...namespaced.items.map((b) => toManaged(cluster, b)),
        ...clusterWide.items.map((b) => toManaged(cluster, b)),
      ];
    },

    watchManagedBindings(cluster, onEvent, onError) {
      const { rbac, watch } = clientsFor(cluster);
      const collections = [
        {
          path: `/apis/${rbacGroup}/v1/rolebindings`,
          list: () =>
            call(cluster, 'list RoleBindings', () =>
              rbac.listRoleBindingForAllNamespaces({ labelSelector: managedSelector }),
            ),
        },
        {
          path: `/apis/${rbacGroup}/v1/clusterrolebindings`,
          list: () =>
            call(cluster, 'list ClusterRoleBindings', () =>
              rbac.listClusterRoleBinding({ labelSelector: managedSelector }),
            ),
        },
      ];
      const watches = collections.map(({ path, list }) =>
        watchBindings({
          watch,
          path,
          labelSelector: managedSelector,
          list,
          onEvent: (type, object) => onEvent(type, toManaged(cluster, object)),
          onError: (e) => onError(asDomainError(cluster, `watch ${path}`, e)),
        }),
      );
      return {
        stop() {
          for (const w of watches) w.stop();
        },
      };
    },

    async roleRules(cluster, kind, name, namespace) {
      const { rbac } = clientsFor(cluster);
      const role = await callAccepting(
        cluster,
        `read ${kind} ${name}`,
        () =>
          kind === 'ClusterRole'
            ? rbac.readClusterRole({ name })
            : rbac.readNamespacedRole({ name, namespace: namespace ?? '' }),
        404,
      );
      if (role === null) return null;
      return (role.rules ?? []).map((r) => ({
        verbs: r.verbs,
        ...(r.apiGroups ? { apiGroups: r.apiGroups } : {}),
        ...(r.resources ? { resources: r.resources } : {}),
        ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}),
        ...(r.nonResourceURLs ? { nonResourceURLs: r.nonResourceURLs } : {}),
      }));
    },

    namespaceLabels: readNamespaceLabels,

    async namespaceExists(cluster, namespace) {
      return (await readNamespaceLabels(cluster, namespace)) !== null;
    },
  };
}
