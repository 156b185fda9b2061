import * as k8s from '@kubernetes/client-node';
import type { ClusterConnection } from '../../config/load-config.js';
import type { HomeObject } from '../../services/kube-requests.js';
import { watchObjects } from './binding-watch.js';
import { loadKubeConfig } from './kube-clients.js';

const group = 'elevate.dev';
const version = 'v1';
/** Elevate's field manager: what it writes in an object's status is its own under server-side apply. */
export const fieldManager = 'elevate';

export type { HomeObject };

interface Raw {
  metadata?: k8s.V1ObjectMeta;
  spec?: unknown;
  status?: Record<string, unknown>;
}

/**
 * Watches some of Elevate's kinds in the home cluster (cluster-wide, or in one namespace) and reports the
 * whole current set after each change, a burst once, and never before every kind has been listed (so
 * nothing is judged half-read). Until then (CRDs missing, cluster down) the watch keeps retrying.
 */
export function watchHomeObjects(
  home: ClusterConnection,
  kinds: readonly { kind: string; plural: string }[],
  namespace: string | null,
  deps: {
    onChange: (objects: HomeObject[]) => void;
    onDeleted?: (object: HomeObject) => void;
    onError: (error: Error) => void;
  },
) {
  const kc = loadKubeConfig(home);
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const watch = new k8s.Watch(kc);
  const known = new Map<string, HomeObject>();
  const listed = new Set<string>();
  let pending: NodeJS.Timeout | undefined;
  const objectOf = (kind: string, raw: Raw): HomeObject => ({
    kind,
    name: raw.metadata?.name ?? '',
    uid: raw.metadata?.uid ?? '',
    generation: raw.metadata?.generation ?? 0,
    spec: raw.spec ?? {},
    status: raw.status,
  });

  function report(): void {
    if (listed.size < kinds.length) return;
    clearTimeout(pending);
    pending = setTimeout(() => deps.onChange([...known.values()]), 100);
  }

  const base = namespace ? `/apis/${group}/${version}/namespaces/${namespace}` : `/apis/${group}/${version}`;
  const watches = kinds.map(({ kind, plural }) =>
    watchObjects<Raw>({
      watch,
      path: `${base}/${plural}`,
      list: async () => {
        const list = (await (namespace
          ? api.listNamespacedCustomObject({ group, version, namespace, plural })
          : api.listClusterCustomObject({ group, version, plural }))) as {
          items: Raw[];
          metadata?: { resourceVersion?: string };
        };
        for (const key of [...known.keys()]) if (key.startsWith(`${kind}/`)) known.delete(key);
        for (const item of list.items) known.set(`${kind}/${item.metadata?.name}`, objectOf(kind, item));
        listed.add(kind);
        report();
        return list;
      },
      onEvent: (type, raw) => {
        const key = `${kind}/${raw.metadata?.name}`;
        if (type === 'DELETED') {
          known.delete(key);
          deps.onDeleted?.(objectOf(kind, raw));
        } else known.set(key, objectOf(kind, raw));
        report();
      },
      onError: deps.onError,
    }),
  );

  return {
    /** Every object as last seen. */
    all: () => [...known.values()],
    /** The object as last seen; undefined: gone, or not yet listed. */
    get: (kind: string, name: string) => known.get(`${kind}/${name}`),
    /** Applies `status` to the object (server-side apply, forced: the status is Elevate's alone). */
    async applyStatus(kind: string, name: string, status: Record<string, unknown>): Promise<void> {
      const plural = kinds.find((k) => k.kind === kind)?.plural as string;
      const body = {
        apiVersion: `${group}/${version}`,
        kind,
        metadata: { name, ...(namespace ? { namespace } : {}) },
        status,
      };
      const options = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
      const common = { group, version, plural, name, body, fieldManager, force: true };
      await (namespace
        ? api.patchNamespacedCustomObjectStatus({ ...common, namespace }, options)
        : api.patchClusterCustomObjectStatus(common, options));
    },
    stop(): void {
      clearTimeout(pending);
      for (const w of watches) w.stop();
    },
  };
}
export type HomeObjects = ReturnType<typeof watchHomeObjects>;
