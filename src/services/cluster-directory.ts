import type { PolicySet } from '../domain/policy/types.js';
import type { SubjectNaming } from '../domain/subject.js';
import type { ClusterChange, ClusterDirectory, ManagedCluster, PolicySource } from './ports.js';

export const fileSource = 'config';

export interface ClusterDirectoryHolder extends ClusterDirectory {
  /**
   * Puts the clusters Secrets describe now in place of the ones they described before; reports what
   * changed. A Secret naming a cluster of the file is ignored (the file wins): returned as `shadowed`.
   */
  replaceDiscovered(
    clusters: ManagedCluster[],
    changedConnections?: ReadonlySet<string>,
  ): {
    change: ClusterChange;
    shadowed: ManagedCluster[];
  };
}

/** The file's clusters, as the config gives them. */
export function fileClusters(
  clusters: readonly { name: string; labels?: Record<string, string>; subjects?: SubjectNaming }[],
): ManagedCluster[] {
  return clusters.map((c) => ({
    name: c.name,
    labels: c.labels ?? {},
    subjects: c.subjects ?? { userPrefix: '', groupPrefix: '' },
    source: fileSource,
  }));
}

/**
 * The clusters Elevate manages: the config file's (fixed until a restart; their labels reload with the
 * policy set) and those discovered from Secrets, replaced whole each time the Secrets change.
 */
export function createClusterDirectory(fromFile: ManagedCluster[]): ClusterDirectoryHolder {
  const file = new Map(fromFile.map((c) => [c.name, c]));
  let discovered = new Map<string, ManagedCluster>();
  const listeners = new Set<(change: ClusterChange) => void>();
  const same = (a: ManagedCluster, b: ManagedCluster) => JSON.stringify(a) === JSON.stringify(b);

  return {
    all: () => [...file.values(), ...discovered.values()],
    get: (name) => file.get(name) ?? discovered.get(name),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    replaceDiscovered(clusters, changedConnections = new Set()) {
      const shadowed = clusters.filter((c) => file.has(c.name));
      const next = new Map(clusters.filter((c) => !file.has(c.name)).map((c) => [c.name, c]));
      const change: ClusterChange = {
        added: [...next.values()].filter((c) => !discovered.has(c.name)),
        removed: [...discovered.values()].filter((c) => !next.has(c.name)),
        updated: [...next.values()].filter((c) => {
          const before = discovered.get(c.name);
          return before !== undefined && (!same(before, c) || changedConnections.has(c.name));
        }),
      };
      discovered = next;
      if (change.added.length + change.removed.length + change.updated.length > 0) {
        for (const listener of listeners) listener(change);
      }
      return { change, shadowed };
    },
  };
}

/** The directory of a fixed set of clusters, as tests and tools that read no Secrets have it. */
export function fixedClusters(...names: string[]): ClusterDirectory {
  return createClusterDirectory(fileClusters(names.map((name) => ({ name }))));
}

/**
 * The policy set with the labels of clusters from Secrets beside the file's (which reload with the set),
 * so a clusterSelector matches a cluster however it was added.
 */
export function withDiscoveredLabels(source: PolicySource, directory: ClusterDirectory): PolicySource {
  let cache: { set: PolicySet; labelled: PolicySet } | null = null;
  directory.onChange(() => {
    cache = null;
  });
  return {
    current() {
      const set = source.current();
      if (cache?.set !== set) {
        const discovered = directory.all().filter((c) => c.source !== fileSource);
        const grants = discovered.flatMap((c) => (c.grants ? [[c.name, c.grants] as const] : []));
        const clusterLabels = {
          ...Object.fromEntries(discovered.map((c) => [c.name, c.labels])),
          ...set.clusterLabels,
        };
        const clusterGrants =
          grants.length > 0 ? { ...Object.fromEntries(grants), ...set.clusterGrants } : set.clusterGrants;
        cache = { set, labelled: { ...set, clusterLabels, ...(clusterGrants ? { clusterGrants } : {}) } };
      }
      return cache.labelled;
    },
  };
}
