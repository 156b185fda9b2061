import { type AccessRequest, isDueForRemoval } from '../domain/access-request.js';
import { type AuditEventInput, systemActor } from '../domain/audit-event.js';
import { bindingKey, desiredBinding, grantsSameAccess } from '../domain/binding.js';
import type { Clock } from '../domain/clock.js';
import type { GrantService } from '../services/grant-service.js';
import type { BindingEventType, ClusterGateway, ManagedBinding, Store } from '../services/ports.js';
import { backoffMs } from './backoff.js';

export interface DriftReconcilerDeps {
  store: Pick<Store, 'listRequests' | 'appendAudit' | 'getRequest'>;
  clusters: Pick<ClusterGateway, 'listManagedBindings' | 'watchManagedBindings'>;
  grants: Pick<GrantService, 'restoreBinding' | 'removeOrphan'>;
  clusterNames: string[];
  clock: Clock;
  intervalMs: number;
  onError: (cluster: string, error: Error) => void;
  onRepair: (event: AuditEventInput) => void;
}

/** Changes seen by the watch are gathered for this long into one pass. */
const watchDebounceMs = 100;

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
export type DriftReconciler = ReturnType<typeof createDriftReconciler>;

export function createDriftReconciler(deps: DriftReconcilerDeps) {
  const { store, clusters, grants, clock } = deps;
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

  /**
   * Whether a watched change is one Elevate expects (its own writes and removals), so it needs no pass.
   * Anything else — a live grant's binding deleted or altered, a labelled binding with no live grant —
   * does.
   */
  async function isExpected(
    cluster: string,
    type: BindingEventType,
    binding: ManagedBinding,
  ): Promise<boolean> {
    const request = binding.requestId ? await store.getRequest(binding.requestId) : null;
    if (!request || request.spec.cluster !== cluster) return false;
    const now = clock.now();
    const live = request.phase === 'Active' && !isDueForRemoval(request, now);
    if (type === 'DELETED') return !live;
    if (request.phase === 'Approved' || isDueForRemoval(request, now)) return true;
    return (
      live &&
      (request.grant?.bindings ?? []).some((ref) => bindingKey(ref) === bindingKey(binding.ref)) &&
      grantsSameAccess(binding, desiredBinding(request, null))
    );
  }

  function onWatchEvent(cluster: string, type: BindingEventType, binding: ManagedBinding): void {
    isExpected(cluster, type, binding)
      .catch(() => false)
      .then((expected) => {
        if (!expected) kick(cluster, watchDebounceMs);
      });
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

  interface ClusterLoop {
    timer?: NodeJS.Timeout;
    running: boolean;
    rerun: boolean;
    failures: number;
  }
  const loops = new Map<string, ClusterLoop>();
  const watches: { stop(): void }[] = [];

  /** Runs a pass for one cluster after delayMs; passes never overlap, and a kick during one queues another. */
  function kick(cluster: string, delayMs: number): void {
    const loop = loops.get(cluster);
    if (!loop || stopped) return;
    if (loop.running) {
      loop.rerun = true;
      return;
    }
    clearTimeout(loop.timer);
    loop.timer = setTimeout(() => void pass(cluster, loop), delayMs);
  }

  async function pass(cluster: string, loop: ClusterLoop): Promise<void> {
    loop.running = true;
    let next = deps.intervalMs;
    try {
      await reconcileCluster(cluster);
      loop.failures = 0;
    } catch (e) {
      loop.failures++;
      deps.onError(cluster, e as Error);
      next = backoffMs(loop.failures, { maxMs: deps.intervalMs });
    } finally {
      loop.running = false;
    }
    if (loop.rerun && loop.failures === 0) next = 0;
    loop.rerun = false;
    kick(cluster, next);
  }

  return {
    /** One pass over every cluster; a failing cluster doesn't stop the others. */
    async reconcileAll(): Promise<PromiseSettledResult<DriftReport>[]> {
      return Promise.allSettled(deps.clusterNames.map((c) => reconcileCluster(c)));
    },
    start(): void {
      for (const c of deps.clusterNames) {
        loops.set(c, { running: false, rerun: false, failures: 0 });
        kick(c, deps.intervalMs);
        watches.push(
          clusters.watchManagedBindings(
            c,
            (type, binding) => onWatchEvent(c, type, binding),
            (e) => deps.onError(c, e),
          ),
        );
      }
    },
    stop(): void {
      stopped = true;
      for (const w of watches) w.stop();
      for (const loop of loops.values()) clearTimeout(loop.timer);
    },
  };
}
