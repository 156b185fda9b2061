import { type AccessRequest, nextDueAt } from '../domain/access-request.js';
import type { Clock } from '../domain/clock.js';
import { backoffMs } from './backoff.js';

// setTimeout holds at most ~24.8 days; longer waits are re-armed in steps.
const maxTimerMs = 2_147_000_000;
// A burst of expiries is worked off this many at a time: enough to keep the API server busy, few enough
// that a few pooled connections carry them instead of a new connection per grant.
const maxConcurrentSettles = 64;

export interface GrantSchedulerDeps {
  settle: (id: string) => Promise<AccessRequest>;
  clock: Clock;
  onError: (id: string, error: Error, retryInMs: number) => void;
  /** Told of each request a timer settled (expired, revoked, activated, timed out). */
  onSettled: (request: AccessRequest) => void;
}

export type GrantScheduler = ReturnType<typeof createGrantScheduler>;

/**
 * In-process timers, one per live request, firing exactly when something is due
 * (an expiry, an approval deadline, a pending activation or revocation). The
 * store stays the source of truth: on start every live request is tracked
 * again, so whatever fell due while the server was down fires at once.
 * Failures are retried with exponential backoff per request.
 */
export function createGrantScheduler({ settle, clock, onError, onSettled }: GrantSchedulerDeps) {
  const timers = new Map<string, NodeJS.Timeout>();
  /** Failures in a row per request, while it is being retried. */
  const failures = new Map<string, number>();
  const running = new Set<Promise<unknown>>();
  const waiting: (() => void)[] = [];
  /** Settles running now (at most maxConcurrentSettles); the rest wait in `waiting`. */
  let settling = 0;
  let stopped = false;
  /** Start-up catch-up: told when an overdue request has been settled (after however many retries). */
  const catchUpWaiters = new Map<string, () => void>();

  function settledAfterCatchUp(id: string): void {
    catchUpWaiters.get(id)?.();
    catchUpWaiters.delete(id);
  }

  async function throttled<T>(work: () => Promise<T>): Promise<T> {
    if (settling >= maxConcurrentSettles) await new Promise<void>((resolve) => waiting.push(resolve));
    settling++;
    try {
      return await work();
    } finally {
      settling--;
      waiting.shift()?.();
    }
  }

  /**
   * Fires `fire(id)` at `dueAt` by the clock, never before it. Node's timers count whole milliseconds on
   * their own monotonic clock and may fire up to a millisecond before the wall clock says a grant has
   * ended; settling then would find nothing due, read and save for nothing, and wait for another timer. A
   * timer that is early, or that had to be cut short to fit setTimeout, is simply armed again for the rest.
   */
  function arm(id: string, dueAt: number): void {
    clearTimeout(timers.get(id));
    const delayMs = Math.max(0, dueAt - clock.now().getTime());
    timers.set(
      id,
      setTimeout(
        () => {
          timers.delete(id);
          if (clock.now().getTime() < dueAt) arm(id, dueAt);
          else fire(id);
        },
        Math.min(delayMs, maxTimerMs),
      ),
    );
  }

  function fire(id: string): void {
    if (stopped) return;
    const run = throttled(() => settle(id))
      .then((request) => {
        failures.delete(id);
        settledAfterCatchUp(id);
        onSettled(request);
        track(request);
      })
      .catch((e: Error) => {
        const count = (failures.get(id) ?? 0) + 1;
        failures.set(id, count);
        const next = backoffMs(count);
        onError(id, e, next);
        if (!stopped) arm(id, clock.now().getTime() + next);
      });
    running.add(run);
    void run.finally(() => running.delete(run));
  }

  function track(request: AccessRequest): void {
    if (stopped) return;
    const due = nextDueAt(request);
    if (due === null) {
      clearTimeout(timers.get(request.id));
      timers.delete(request.id);
      failures.delete(request.id);
      return;
    }
    // A request already waiting out a backoff keeps it, so a broken cluster is not hammered.
    if (failures.has(request.id) && timers.has(request.id)) return;
    arm(request.id, due.getTime());
  }

  /** Resolves once every settle started so far has finished (start-up catch-up, shutdown). */
  async function idle(): Promise<void> {
    while (running.size > 0) await Promise.allSettled([...running]);
  }

  return {
    track,
    /**
     * Start-up: settles at once whatever fell due while Elevate was down and tracks the rest. Resolves
     * when every overdue request has been settled — a failed settle is retried with backoff meanwhile, so
     * "done" means the bindings are really gone — or after maxWaitMs (an unreachable cluster must not
     * hold up serving for ever; its grants go on being retried).
     */
    async catchUp(requests: AccessRequest[], maxWaitMs: number): Promise<void> {
      const now = clock.now().getTime();
      const overdue: Promise<void>[] = [];
      for (const request of requests) {
        const due = nextDueAt(request);
        if (due !== null && due.getTime() <= now) {
          overdue.push(new Promise<void>((resolve) => catchUpWaiters.set(request.id, resolve)));
          fire(request.id);
        } else track(request);
      }
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, maxWaitMs);
      });
      await Promise.race([Promise.all(overdue), waited]);
      clearTimeout(timer);
      catchUpWaiters.clear();
    },
    idle,
    pendingCount: () => timers.size,
    stop(): void {
      stopped = true;
      for (const id of [...catchUpWaiters.keys()]) settledAfterCatchUp(id);
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    },
  };
}
