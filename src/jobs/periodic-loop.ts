/**
 * A leader-only loop that runs one pass every `everyMs` (a ticket re-check, overdue reviews, the outbox
 * relay…): never two passes at once, the next one timed from the end of the last, a failed pass reported
 * and tried again at the next tick. `poke()` runs a pass as soon as the current one ends, for work that
 * should not wait for the tick (an audit event to deliver now).
 */
export interface LeaderLoop {
  start(): void;
  /** Ends the loop; resolves once a pass under way has finished. */
  stop(): Promise<void>;
  poke(): void;
}

export interface PeriodicLoopOptions {
  everyMs: number;
  run: () => Promise<void>;
  onError: (error: Error) => void;
}

export function createPeriodicLoop({ everyMs, run, onError }: PeriodicLoopOptions): LeaderLoop {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | null = null;
  let stopped = true;
  let again = false;

  function schedule(delayMs: number): void {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(pass, delayMs);
  }

  function pass(): void {
    if (stopped || running) {
      again = true;
      return;
    }
    again = false;
    running = run()
      .catch((e: Error) => onError(e))
      .finally(() => {
        running = null;
        schedule(again ? 0 : everyMs);
      });
  }

  return {
    start() {
      stopped = false;
      schedule(0);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    poke() {
      if (stopped) return;
      if (running) again = true;
      else schedule(0);
    },
  };
}
