import type { BindingRef } from '../../src/domain/access-request.js';
import { bindingKey, type DesiredBinding, grantsSameAccess, requestLabel } from '../../src/domain/binding.js';
import { Refused, Unavailable } from '../../src/domain/errors.js';
import type { RoleRule } from '../../src/domain/policy/types.js';
import type { BindingEventType, ClusterGateway, ManagedBinding } from '../../src/services/ports.js';

/**
 * A ClusterGateway over plain maps, for tests whose subject is Elevate's decision and lifecycle logic rather
 * than Kubernetes (the kube gateway itself is proven against a real kube-apiserver). It keeps the contract
 * the services rely on: idempotent applies, 'absent' deletes, a RoleBinding in a namespace that does not
 * exist refused for good (as the API server's 404), and Unavailable for every call to a cluster that is
 * down — or to any cluster while calls are set to fail.
 */
export interface MemoryClusterSetup {
  /** Namespaces and their labels, per cluster. */
  namespaces: Record<string, Record<string, Record<string, string>>>;
  /** ClusterRoles and their rules (the same in every cluster unless setRole changes one). */
  clusterRoles: Record<string, RoleRule[]>;
}

export interface MemoryCluster extends ClusterGateway {
  /** Every binding in every cluster, by bindingKey. */
  readonly bindings: ReadonlyMap<string, DesiredBinding>;
  /** The cluster stops answering (every call throws Unavailable) until setDown(cluster, false). */
  setDown(cluster: string, down: boolean): void;
  isDown(cluster: string): boolean;
  /** The next `count` calls to any cluster throw Unavailable (a flaky network). */
  failNextCalls(count: number): void;
  /** Replaces a ClusterRole's rules in one cluster, as `kubectl edit clusterrole` would. */
  setRole(cluster: string, name: string, rules: RoleRule[]): void;
  /** How many calls were made, and how many of them failed. */
  readonly calls: { total: number; failed: number };
  /** How many times each binding (by bindingKey) was created: more than once means removed and re-made. */
  readonly creations: ReadonlyMap<string, number>;
}

export function createMemoryCluster(setup: MemoryClusterSetup): MemoryCluster {
  const bindings = new Map<string, DesiredBinding>();
  const down = new Set<string>();
  const roles = new Map<string, RoleRule[]>();
  for (const cluster of Object.keys(setup.namespaces)) {
    for (const [name, rules] of Object.entries(setup.clusterRoles)) roles.set(`${cluster}/${name}`, rules);
  }
  const watchers = new Set<{
    cluster: string;
    onEvent: (type: BindingEventType, binding: ManagedBinding) => void;
  }>();
  let failing = 0;
  const calls = { total: 0, failed: 0 };
  const creations = new Map<string, number>();
  /** Credential grants' ServiceAccounts, as cluster/namespace/name. */
  const accounts = new Set<string>();

  /** Every call goes through here first: an unknown or unreachable cluster answers nothing. */
  function reach(cluster: string, what: string): void {
    calls.total++;
    if (!(cluster in setup.namespaces)) throw new Error(`memory cluster: unknown cluster ${cluster}`);
    if (down.has(cluster) || failing > 0) {
      if (failing > 0) failing--;
      calls.failed++;
      throw new Unavailable(`cluster ${cluster}: ${what} failed: connect ECONNREFUSED`);
    }
  }

  const managed = (b: DesiredBinding): ManagedBinding => ({
    ref: b.ref,
    requestId: b.labels[requestLabel] ?? null,
    roleRef: b.roleRef,
    subjects: b.subjects,
  });

  function notify(cluster: string, type: BindingEventType, b: DesiredBinding): void {
    for (const w of watchers) if (w.cluster === cluster) w.onEvent(type, managed(b));
  }

  const namespaceLabels = (cluster: string, ns: string) => setup.namespaces[cluster]?.[ns] ?? null;

  return {
    bindings,
    calls,
    creations,
    setDown(cluster, isDown) {
      if (isDown) down.add(cluster);
      else down.delete(cluster);
    },
    isDown: (cluster) => down.has(cluster),
    failNextCalls(count) {
      failing = count;
    },
    setRole(cluster, name, rules) {
      roles.set(`${cluster}/${name}`, rules);
    },

    async applyBinding(cluster, binding) {
      reach(cluster, `apply ${binding.ref.name}`);
      if (binding.ref.namespace !== null && namespaceLabels(cluster, binding.ref.namespace) === null) {
        throw new Refused(`namespaces "${binding.ref.namespace}" not found`, 404);
      }
      const key = bindingKey(binding.ref);
      const existing = bindings.get(key);
      const copy = structuredClone(binding);
      bindings.set(key, copy);
      if (!existing) {
        creations.set(key, (creations.get(key) ?? 0) + 1);
        notify(cluster, 'ADDED', copy);
        return 'created';
      }
      const same =
        grantsSameAccess(existing, binding) &&
        JSON.stringify(existing.annotations) === JSON.stringify(binding.annotations) &&
        JSON.stringify(existing.labels) === JSON.stringify(binding.labels);
      if (same) return 'unchanged';
      notify(cluster, 'MODIFIED', copy);
      return 'updated';
    },

    async annotateBinding(cluster, ref, annotations) {
      reach(cluster, `annotate ${ref.name}`);
      const existing = bindings.get(bindingKey(ref));
      if (!existing) return 'absent';
      existing.annotations = { ...existing.annotations, ...annotations };
      notify(cluster, 'MODIFIED', existing);
      return 'updated';
    },

    async deleteBinding(cluster, ref: BindingRef) {
      reach(cluster, `delete ${ref.name}`);
      const key = bindingKey(ref);
      const existing = bindings.get(key);
      if (!existing) return 'absent';
      bindings.delete(key);
      notify(cluster, 'DELETED', existing);
      return 'deleted';
    },

    async listManagedBindings(cluster) {
      reach(cluster, 'list bindings');
      return [...bindings.values()].filter((b) => b.ref.cluster === cluster).map(managed);
    },

    watchManagedBindings(cluster, onEvent) {
      const watcher = { cluster, onEvent };
      watchers.add(watcher);
      return { stop: () => watchers.delete(watcher) };
    },

    async namespaceExists(cluster, namespace) {
      reach(cluster, `read namespace ${namespace}`);
      return namespaceLabels(cluster, namespace) !== null;
    },

    async roleRules(cluster, kind, name) {
      reach(cluster, `read ${kind} ${name}`);
      // Only ClusterRoles exist here; a Role of any name is as absent as the API server would say.
      if (kind === 'Role') return null;
      const rules = roles.get(`${cluster}/${name}`);
      return rules ? structuredClone(rules) : null;
    },

    async namespaceLabels(cluster, namespace) {
      reach(cluster, `read namespace ${namespace}`);
      const labels = namespaceLabels(cluster, namespace);
      return labels ? { ...labels } : null;
    },

    async applyServiceAccount(cluster, account) {
      reach(cluster, `create ServiceAccount ${account.name}`);
      const key = `${cluster}/${account.namespace}/${account.name}`;
      if (accounts.has(key)) return 'unchanged';
      accounts.add(key);
      return 'created';
    },

    async deleteServiceAccount(cluster, account) {
      reach(cluster, `delete ServiceAccount ${account.name}`);
      return accounts.delete(`${cluster}/${account.namespace}/${account.name}`) ? 'deleted' : 'absent';
    },

    async listManagedServiceAccounts(cluster, namespace) {
      reach(cluster, `list ServiceAccounts in ${namespace}`);
      return [...accounts]
        .map((key) => key.split('/'))
        .filter(([c, ns]) => c === cluster && ns === namespace)
        .map(([, ns, name]) => ({
          cluster,
          namespace: ns as string,
          name: name as string,
          requestId: (name as string).replace(/^elevate-/, ''),
        }));
    },

    async issueToken(cluster, account, seconds) {
      reach(cluster, `request a token of ${account.name}`);
      if (!accounts.has(`${cluster}/${account.namespace}/${account.name}`)) {
        throw new Refused(`serviceaccounts "${account.name}" not found`, 404);
      }
      return {
        token: `token-of-${account.name}`,
        expiresAt: new Date(Date.now() + seconds * 1000),
        server: `https://${cluster}.example:6443`,
        caData: null,
      };
    },
  };
}
