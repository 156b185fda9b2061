import type { ClusterConnection } from '../../config/load-config.js';
import type { PolicyObject, Verdict } from '../../config/resource-policies.js';
import { watchHomeObjects } from './home-objects.js';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

const kinds = [
  { kind: 'AccessPolicy', plural: 'accesspolicies' },
  { kind: 'AccessProfile', plural: 'accessprofiles' },
] as const;

/**
 * AccessPolicy and AccessProfile in the home cluster: the whole current set after each change, and each
 * object's Accepted condition written only when it differs from what the object already says.
 */
export function watchPolicyObjects(
  home: ClusterConnection,
  deps: { onChange: (objects: PolicyObject[]) => void; onError: (error: Error) => void },
) {
  const objects = watchHomeObjects(home, kinds, null, {
    onChange: (all) =>
      deps.onChange(
        all.map((o) => ({
          kind: o.kind as PolicyObject['kind'],
          name: o.name,
          generation: o.generation,
          spec: o.spec,
        })),
      ),
    onError: deps.onError,
  });

  return {
    /** Sets the object's Accepted condition to the verdict, unless it already says exactly that. */
    async writeStatus(verdict: Verdict): Promise<void> {
      const { kind, name, generation } = verdict.object;
      const current = objects.get(kind, name);
      if (!current) return;
      const status = verdict.accepted ? 'True' : 'False';
      const was = (current.status?.conditions as Condition[] | undefined)?.find((c) => c.type === 'Accepted');
      if (
        was &&
        was.status === status &&
        was.message === verdict.message &&
        was.observedGeneration === generation
      )
        return;
      const condition: Condition = {
        type: 'Accepted',
        status,
        reason: verdict.accepted ? 'Valid' : 'Invalid',
        message: verdict.message,
        lastTransitionTime: was && was.status === status ? was.lastTransitionTime : new Date().toISOString(),
        observedGeneration: generation,
      };
      await objects.applyStatus(kind, name, { observedGeneration: generation, conditions: [condition] });
    },
    stop: objects.stop,
  };
}
