import type { AccessRequest, Phase } from '../domain/access-request.js';
import type { Clock } from '../domain/clock.js';
import type { Lease, Store } from '../services/ports.js';
import type { ClusterPass, DriftReconciler } from './drift-reconciler.js';
import type { GrantScheduler } from './grant-scheduler.js';
import type { LeaderLoop } from './periodic-loop.js';

const livePhases: Phase[] = ['Pending', 'Approved', 'Scheduled', 'Active'];

export interface LeaderJobsDeps {
  lease: Lease;
  store: Pick<Store, 'listRequests' | 'auditHead'>;
  clock: Clock;
  /** Each leadership term gets fresh jobs; a lost term's timers and loops are stopped. */
  newScheduler: () => GrantScheduler;
  newDrift: () => DriftReconciler;
  /** The other leader-only loops (ticket re-checks, overdue reviews, the outbox relay), fresh each term. */
  newLoops?: () => LeaderLoop[];
  /** How long start-up (or a new term) waits for overdue grants to be settled before going on. */
  catchUpWithinMs: number;
  /**
   * How often the leader looks for requests other servers changed, to time them too; null when this is the
   * only server on the database and sees every change itself.
   */
  pollEveryMs: number | null;
  onLeadershipChange: (leading: boolean) => void;
  /** A step that failed and will be retried (the catch-up by the next poll, drift by its own loop). */
  onError: (step: string, error: Error) => void;
}

/**
 * The jobs (exact-time timers, drift repair) run on the one server holding the lease. Taking the lease
 * starts with the same catch-up as a restart: whatever fell due meanwhile is settled first.
 */
export function createLeaderJobs(deps: LeaderJobsDeps) {
  let term: {
    scheduler: GrantScheduler;
    drift: DriftReconciler;
    loops: LeaderLoop[];
    poll?: NodeJS.Timeout;
  } | null = null;

  async function lead(): Promise<void> {
    const current: NonNullable<typeof term> = {
      scheduler: deps.newScheduler(),
      drift: deps.newDrift(),
      loops: deps.newLoops?.() ?? [],
    };
    term = current;
    deps.onLeadershipChange(true);
    // The lease can be lost while this term is still starting; each step after a wait checks it still runs.
    const ended = () => term !== current;
    // The audit seq up to which other servers' changes have been looked at; null until the first full look
    // at the live requests succeeds. Read before that look, so whatever commits meanwhile is polled again.
    let cursor: number | null = null;
    try {
      const head = await deps.store.auditHead();
      const live = await deps.store.listRequests({ phases: livePhases });
      cursor = head?.seq ?? 0;
      if (ended()) return;
      await current.scheduler.catchUp(live, deps.catchUpWithinMs);
    } catch (e) {
      deps.onError('catch-up', e as Error);
    }
    if (ended()) return;
    for (const { cluster, result } of await current.drift.reconcileAll()) {
      if (result.status === 'rejected') deps.onError(`drift ${cluster}`, result.reason);
    }
    if (ended()) return;
    current.drift.start();
    for (const loop of current.loops) loop.start();
    const pollEveryMs = deps.pollEveryMs;
    if (pollEveryMs === null) return;
    const poll = () => {
      current.poll = setTimeout(async () => {
        if (ended()) return;
        try {
          // The head first: every change up to it has committed, so none is skipped when the cursor moves.
          const head = (await deps.store.auditHead())?.seq ?? 0;
          const changed = await deps.store.listRequests(
            cursor === null ? { phases: livePhases } : { changedAfterSeq: cursor },
          );
          // Finished ones too: tracking a request in a final phase drops its timer.
          for (const r of changed) current.scheduler.track(r);
          cursor = head;
        } catch (e) {
          deps.onError('poll', e as Error);
        } finally {
          if (!ended()) poll();
        }
      }, pollEveryMs);
    };
    poll();
  }

  /** Stops this server's term (its timers, polls and drift loop); returns its scheduler to wait on. */
  function endTerm(): GrantScheduler | undefined {
    const ending = term;
    if (!ending) return undefined;
    term = null;
    clearTimeout(ending.poll);
    ending.drift.stop();
    for (const loop of ending.loops) void loop.stop();
    ending.scheduler.stop();
    deps.onLeadershipChange(false);
    return ending.scheduler;
  }

  return {
    /** Resolves once the first try for the lease is done (and, if taken, its catch-up). */
    start(): Promise<void> {
      return deps.lease.start(async (held) => {
        if (held) await lead();
        else endTerm();
      });
    },
    /** Times a request changed on this server; a follower leaves that to the leader's poll. */
    track(request: AccessRequest): void {
      term?.scheduler.track(request);
    },
    isLeader: () => term !== null,
    /** The leader's loops this term (empty on a follower), e.g. to poke the outbox relay. */
    loops: () => term?.loops ?? [],
    /** How many requests this server has a timer for (none on a follower). */
    timerCount: () => term?.scheduler.pendingCount() ?? 0,
    /** One drift pass over every cluster now; null on a follower, which runs no drift repair. */
    async reconcileNow(): Promise<ClusterPass[] | null> {
      return term ? term.drift.reconcileAll() : null;
    },
    async stop(): Promise<void> {
      const scheduler = endTerm();
      await deps.lease.stop();
      await scheduler?.idle();
    },
  };
}
