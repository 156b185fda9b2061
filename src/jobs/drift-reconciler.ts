import { type AccessRequest, isDueForRemoval } from '../domain/access-request.js';
import { type AuditEventInput, systemActor } from '../domain/audit-event.js';
import { bindingKey, desiredBinding, grantsSameAccess } from '../domain/binding.js';
import type { Clock } from '../domain/clock.js';
import type { GrantService } from '../services/grant-service.js';
import type { ClusterGateway, Store } from '../services/ports.js';

export interface DriftReconcilerDeps {
  store: Pick<Store, 'listRequests' | 'appendAudit'>;
  clusters: Pick<ClusterGateway, 'listManagedBindings'>;
  grants: Pick<GrantService, 'restoreBinding' | 'removeOrphan'>;
  clusterNames: string[];
  clock: Clock;
  intervalMs: number;
  onError: (cluster: string, error: Error) => void;
  onRepair: (event: AuditEventInput) => void;
}

export interface DriftReport {
  cluster: string;
  restored: number;
  corrected: number;
  removed: number;
}

/**
 * Keeps what Elevate manages in each cluster equal to the active grants: a
 * missing binding of a live grant is written again, one that grants something
 * else is corrected, and a binding carrying Elevate's label with no live grant
 * behind it is removed. Every repair is audited. A cluster that fails is
 * retried with backoff, independently of the others.
 */
export function createDriftReconciler(deps: DriftReconcilerDeps) {
  const { store, clusters, grants, clock } = deps;
  const failures = new Map<string, number>();
  const timers = new Map<string, NodeJS.Timeout>();
  let stopped = false;

  function audit(
    action: string,
    cluster: string,
    requestId: string | null,
    details: Record<string, unknown>,
  ) {
    return {
      time: clock.now(),
      actor: systemActor,
      action,
      requestId,
      cluster,
      details,
    } satisfies AuditEventInput;
  }

  /** Each repair is audited as soon as it is made, so a crash mid-pass loses no record. */
  async function record(event: AuditEventInput): Promise<void> {
    await store.appendAudit([event]);
    deps.onRepair(event);
  }

  async function reconcileCluster(cluster: string): Promise<DriftReport> {
    // Bindings first, requests second: a binding created in between belongs to a request already live
    // when the requests are read, so it is never mistaken for an orphan.
    const actual = await clusters.listManagedBindings(cluster);
    const now = clock.now();
    const live = await store.listRequests({ phases: ['Approved', 'Active'] });
    const ofCluster = live.filter((r) => r.spec.cluster === cluster);
    // Approved requests and due removals are the grant service's to finish; drift leaves their bindings alone.
    const inFlight = new Set(
      ofCluster.filter((r) => r.phase === 'Approved' || isDueForRemoval(r, now)).map((r) => r.id),
    );
    const wanted = new Map<string, AccessRequest>();
    for (const r of ofCluster) {
      if (r.phase === 'Active' && !inFlight.has(r.id)) {
        for (const ref of r.grant?.bindings ?? []) wanted.set(bindingKey(ref), r);
      }
    }
    const actualByKey = new Map(actual.map((b) => [bindingKey(b.ref), b]));
    const report: DriftReport = { cluster, restored: 0, corrected: 0, removed: 0 };

    for (const [key, request] of wanted) {
      const desired = desiredBinding(request, request.grant?.expiresAt ?? null);
      const found = actualByKey.get(key);
      if (found && grantsSameAccess(found, desired)) continue;
      const outcome = await grants.restoreBinding(request.id);
      if (outcome !== 'created' && outcome !== 'updated') continue;
      if (outcome === 'updated') report.corrected++;
      else report.restored++;
      await record(
        audit(outcome === 'updated' ? 'BindingCorrected' : 'BindingRestored', cluster, request.id, {
          binding: desired.ref,
          ...(found ? { found: { roleRef: found.roleRef, subjects: found.subjects } } : {}),
        }),
      );
    }
    for (const binding of actual) {
      const key = bindingKey(binding.ref);
      if (wanted.has(key) || (binding.requestId && inFlight.has(binding.requestId))) continue;
      if (!(await grants.removeOrphan(cluster, binding))) continue;
      report.removed++;
      await record(
        audit('OrphanBindingRemoved', cluster, binding.requestId, {
          binding: binding.ref,
          roleRef: binding.roleRef,
          subjects: binding.subjects,
        }),
      );
    }
    return report;
  }

  function loop(cluster: string, delayMs: number): void {
    if (stopped) return;
    timers.set(
      cluster,
      setTimeout(async () => {
        try {
          await reconcileCluster(cluster);
          failures.delete(cluster);
          loop(cluster, deps.intervalMs);
        } catch (e) {
          const n = (failures.get(cluster) ?? 0) + 1;
          failures.set(cluster, n);
          deps.onError(cluster, e as Error);
          loop(cluster, Math.min(deps.intervalMs, 500 * 2 ** Math.min(n, 10)));
        }
      }, delayMs),
    );
  }

  return {
    reconcileCluster,
    /** One pass over every cluster; a failing cluster doesn't stop the others. */
    async reconcileAll(): Promise<PromiseSettledResult<DriftReport>[]> {
      return Promise.allSettled(deps.clusterNames.map((c) => reconcileCluster(c)));
    },
    start(): void {
      for (const c of deps.clusterNames) loop(c, deps.intervalMs);
    },
    stop(): void {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
    },
  };
}
