import * as k8s from '@kubernetes/client-node';
import type { ClusterConnection } from '../../config/load-config.js';
import type { PolicyObject, Verdict } from '../../config/resource-policies.js';
import { watchObjects } from './binding-watch.js';

const group = 'elevate.dev';
const version = 'v1';
/** Elevate's field manager: what it writes in an object's status is its own under server-side apply. */
export const fieldManager = 'elevate';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

interface PolicyResource {
  apiVersion?: string;
  kind?: string;
  metadata?: k8s.V1ObjectMeta;
  spec?: unknown;
  status?: { conditions?: Condition[] };
}

const kinds = [
  { kind: 'AccessPolicy', plural: 'accesspolicies' },
  { kind: 'AccessProfile', plural: 'accessprofiles' },
] as const;

/**
 * Watches AccessPolicy and AccessProfile in the home cluster and reports the whole current set after each
 * change (a burst of changes is reported once). Nothing is reported before both kinds have been listed,
 * so a set is never judged half-read; until then (CRDs missing, cluster down) the file's policies stand
 * alone and the watch keeps retrying. Writes each object's Accepted condition with server-side apply,
 * only when it differs from what the object already says.
 */
export function watchPolicyObjects(
  home: ClusterConnection,
  deps: { onChange: (objects: PolicyObject[]) => void; onError: (error: Error) => void },
) {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(home.kubeconfigPath);
  if (home.context) kc.setCurrentContext(home.context);
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const watch = new k8s.Watch(kc);
  const known = new Map<string, PolicyResource & { kind: string }>();
  const listed = new Set<string>();
  let pending: NodeJS.Timeout | undefined;

  function report(): void {
    if (listed.size < kinds.length) return;
    clearTimeout(pending);
    pending = setTimeout(() => {
      deps.onChange(
        [...known.values()].map((o) => ({
          kind: o.kind as PolicyObject['kind'],
          name: o.metadata?.name ?? '',
          generation: o.metadata?.generation ?? 0,
          spec: o.spec ?? {},
        })),
      );
    }, 100);
  }

  const watches = kinds.map(({ kind, plural }) =>
    watchObjects<PolicyResource>({
      watch,
      path: `/apis/${group}/${version}/${plural}`,
      list: async () => {
        const list = (await api.listClusterCustomObject({ group, version, plural })) as {
          items: PolicyResource[];
          metadata?: { resourceVersion?: string };
        };
        for (const key of [...known.keys()]) if (key.startsWith(`${kind}/`)) known.delete(key);
        for (const item of list.items) known.set(`${kind}/${item.metadata?.name}`, { ...item, kind });
        listed.add(kind);
        report();
        return list;
      },
      onEvent: (type, object) => {
        const key = `${kind}/${object.metadata?.name}`;
        if (type === 'DELETED') known.delete(key);
        else known.set(key, { ...object, kind });
        report();
      },
      onError: deps.onError,
    }),
  );

  return {
    /** Sets the object's Accepted condition to the verdict, unless it already says exactly that. */
    async writeStatus(verdict: Verdict): Promise<void> {
      const { kind, name, generation } = verdict.object;
      const current = known.get(`${kind}/${name}`);
      if (!current) return;
      const status = verdict.accepted ? 'True' : 'False';
      const was = current.status?.conditions?.find((c) => c.type === 'Accepted');
      if (
        was &&
        was.status === status &&
        was.message === verdict.message &&
        was.observedGeneration === generation
      )
        return;
      const plural = kinds.find((k) => k.kind === kind)?.plural as string;
      const condition: Condition = {
        type: 'Accepted',
        status,
        reason: verdict.accepted ? 'Valid' : 'Invalid',
        message: verdict.message,
        lastTransitionTime: was && was.status === status ? was.lastTransitionTime : new Date().toISOString(),
        observedGeneration: generation,
      };
      await api.patchClusterCustomObjectStatus(
        {
          group,
          version,
          plural,
          name,
          body: {
            apiVersion: `${group}/${version}`,
            kind,
            metadata: { name },
            status: { observedGeneration: generation, conditions: [condition] },
          },
          fieldManager,
          force: true,
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply),
      );
    },
    stop(): void {
      clearTimeout(pending);
      for (const w of watches) w.stop();
    },
  };
}
