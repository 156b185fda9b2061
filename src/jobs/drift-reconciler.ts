import type { AuditEventInput } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import type {
  BindingEventType,
  ClusterDirectory,
  ClusterGateway,
  ManagedBinding,
} from '../services/ports.js';
import { backoffMs } from './backoff.js';
import { createDriftPass, type DriftPassDeps, type DriftReport } from './drift-pass.js';

export type { DriftReport } from './drift-pass.js';

/** One cluster's pass: its report, or why it failed. */
export interface ClusterPass {
  cluster: string;
  result: PromiseSettledResult<DriftReport>;
}

export interface DriftReconcilerDeps extends Omit<DriftPassDeps, 'clusters' | 'onError' | 'onRepair'> {
  clusters: DriftPassDeps['clusters'] & Pick<ClusterGateway, 'watchManagedBindings'>;
  /** The clusters to keep in line; one added while running gets its loop and watch, one removed loses them. */
  directory: Pick<ClusterDirectory, 'all' | 'onChange'>;
  clock: Clock;
  intervalMs: number;
  /** A pass, one repair in it, or the watch failed; each is retried on its own. */
  onError: (cluster: string, error: Error) => void;
  onRepair: (event: AuditEventInput) => void;
}

/** Changes seen by the watch are gathered for this long into one pass. */
const watchDebounceMs = 100;

/**
 * Runs drift passes (drift-pass.ts) on each cluster: every `intervalMs`, and within moments of an
 * unexpected change to an Elevate-labelled binding seen by the watch. A pass that failed, or had repairs
 * that failed, is retried with backoff, per cluster.
 */
export type DriftReconciler = ReturnType<typeof createDriftReconciler>;

export function createDriftReconciler(deps: DriftReconcilerDeps) {
  const { clusters } = deps;
  const { reconcileCluster, isExpected } = createDriftPass(deps);
  let stopped = false;

  function onWatchEvent(cluster: string, type: BindingEventType, binding: ManagedBinding): void {
    isExpected(type, binding)
      .catch(() => false)
      .then((expected) => {
        if (!expected) kick(cluster, watchDebounceMs);
      });
  }

  interface ClusterLoop {
    timer?: NodeJS.Timeout;
    running: boolean;
    rerun: boolean;
    /** Passes in a row that failed, or had repairs that failed. */
    failures: number;
  }
  const loops = new Map<string, ClusterLoop>();
  /** Clusters whose last pass left something to retry, for a loop started after reconcileAll. */
  const unfinished = new Set<string>();
  const watches = new Map<string, { stop(): void }>();
  let unsubscribe = () => {};

  async function reconcileAndNote(cluster: string): Promise<DriftReport> {
    try {
      const report = await reconcileCluster(cluster);
      if (report.failed > 0) unfinished.add(cluster);
      else unfinished.delete(cluster);
      return report;
    } catch (e) {
      unfinished.add(cluster);
      throw e;
    }
  }

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
    try {
      await reconcileAndNote(cluster);
    } catch (e) {
      deps.onError(cluster, e as Error);
    } finally {
      loop.running = false;
    }
    loop.failures = unfinished.has(cluster) ? loop.failures + 1 : 0;
    let next = loop.failures > 0 ? backoffMs(loop.failures, { maxMs: deps.intervalMs }) : deps.intervalMs;
    if (loop.rerun && loop.failures === 0) next = 0;
    loop.rerun = false;
    kick(cluster, next);
  }

  /** The periodic loop and the watch of one cluster; a cluster added while running has its pass at once. */
  function follow(c: string, firstPassInMs: number): void {
    const failed = unfinished.has(c);
    loops.set(c, { running: false, rerun: false, failures: failed ? 1 : 0 });
    kick(c, failed ? backoffMs(1, { maxMs: deps.intervalMs }) : firstPassInMs);
    watches.set(
      c,
      clusters.watchManagedBindings(
        c,
        (type, binding) => onWatchEvent(c, type, binding),
        (e) => deps.onError(c, e),
      ),
    );
  }

  function unfollow(c: string): void {
    watches.get(c)?.stop();
    watches.delete(c);
    clearTimeout(loops.get(c)?.timer);
    loops.delete(c);
    unfinished.delete(c);
  }

  return {
    /** One pass over every cluster; a failing cluster doesn't stop the others. */
    async reconcileAll(): Promise<ClusterPass[]> {
      const names = deps.directory.all().map((c) => c.name);
      const results = await Promise.allSettled(names.map((c) => reconcileAndNote(c)));
      return names.map((cluster, i) => ({
        cluster,
        result: results[i] as PromiseSettledResult<DriftReport>,
      }));
    },
    start(): void {
      for (const c of deps.directory.all()) follow(c.name, deps.intervalMs);
      unsubscribe = deps.directory.onChange(({ added, removed, updated }) => {
        if (stopped) return;
        for (const c of [...removed, ...updated]) unfollow(c.name);
        for (const c of [...added, ...updated]) follow(c.name, 0);
      });
    },
    stop(): void {
      stopped = true;
      unsubscribe();
      for (const w of watches.values()) w.stop();
      for (const loop of loops.values()) clearTimeout(loop.timer);
    },
  };
}
