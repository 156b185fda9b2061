import type { AuditEvent } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import { backoffMs } from '../jobs/backoff.js';
import type { Store } from './ports.js';

/**
 * Something told about audit events as they are committed: a webhook, later a SIEM sink, Slack, e-mail.
 * Every consumer is fed by the one relay, each from its own cursor over the audit trail.
 */
export interface OutboxConsumer {
  /** Names its cursor; stable across restarts and free of secrets. */
  name: string;
  /**
   * Where a consumer without a cursor starts: 'head' for notifications (no replay of history into a new
   * webhook), 'beginning' for sinks that want the whole trail.
   */
  startAt: 'head' | 'beginning';
  /** Most events handed to one deliver() call; 1 for channels that send event by event. Default: a batch. */
  maxEventsPerDelivery?: number;
  wants(event: AuditEvent): boolean;
  /** Delivers in order; throws to have the same events offered again later (at-least-once). */
  deliver(events: AuditEvent[]): Promise<void>;
}

export interface OutboxRelayParts {
  store: Pick<Store, 'getOutboxCursor' | 'saveOutboxCursor' | 'listAudit' | 'auditHead'>;
  consumers: OutboxConsumer[];
  clock: Clock;
  /** Audit events read per query. */
  batchSize?: number;
  /** Retry delays of a failing consumer: doubling from minMs, capped at maxMs, with jitter. */
  retry?: { minMs: number; maxMs: number };
  /** Asks for a pass when a consumer's retry falls due, rather than at the next tick. */
  wake?: () => void;
  /** In [0, 1); Math.random unless a test fixes it. */
  random?: () => number;
  onDelivered?: (consumer: string, count: number) => void;
  onFailure?: (consumer: string, error: Error, failuresInRow: number, retryInMs: number) => void;
  onRecovered?: (consumer: string, failuresInRow: number) => void;
  onLag?: (consumer: string, events: number) => void;
}

export interface OutboxRelay {
  /**
   * One pass: starts every consumer that is due (not in backoff, not already delivering) on its backlog.
   * Does not wait for them, so a slow or dead consumer never holds up the others.
   */
  pass(): Promise<void>;
  /** Resolves once every delivery under way has ended. */
  idle(): Promise<void>;
  /**
   * Starts no more deliveries (a drain under way ends after its current one) and resolves once those under
   * way have ended: a server losing the lease stops writing cursors before long.
   */
  stop(): Promise<void>;
}

interface ConsumerState {
  consumer: OutboxConsumer;
  /** The last cursor known, for the lag. */
  cursor: number | null;
  /** A pass came while delivering: look for newer events once done rather than at the next tick. */
  again: boolean;
  failures: number;
  retryAt: number;
  running: Promise<void> | null;
}

export function createOutboxRelay(parts: OutboxRelayParts): OutboxRelay {
  const { store, clock } = parts;
  const batchSize = parts.batchSize ?? 100;
  const retry = parts.retry ?? { minMs: 1_000, maxMs: 60_000 };
  const random = parts.random ?? Math.random;
  let stopped = false;
  const states: ConsumerState[] = parts.consumers.map((consumer) => ({
    consumer,
    cursor: null,
    again: false,
    failures: 0,
    retryAt: 0,
    running: null,
  }));

  /**
   * The consumer's cursor as stored (another leader may have moved it since), placing a new one where its
   * startAt says.
   */
  async function cursorOf(state: ConsumerState): Promise<number> {
    const { name, startAt } = state.consumer;
    let cursor = await store.getOutboxCursor(name);
    if (cursor === null) {
      cursor = startAt === 'head' ? ((await store.auditHead())?.seq ?? 0) : 0;
      await store.saveOutboxCursor(name, cursor, clock.now());
    }
    state.cursor = cursor;
    return cursor;
  }

  async function advance(state: ConsumerState, seq: number): Promise<void> {
    await store.saveOutboxCursor(state.consumer.name, seq, clock.now());
    state.cursor = seq;
  }

  /** Delivers the backlog batch by batch, saving the cursor after each delivery that succeeded. */
  async function drain(state: ConsumerState): Promise<void> {
    const { consumer } = state;
    const perDelivery = Math.max(1, consumer.maxEventsPerDelivery ?? batchSize);
    let cursor = await cursorOf(state);
    while (!stopped) {
      state.again = false;
      const batch = await store.listAudit({ afterSeq: cursor, limit: batchSize });
      const last = batch.at(-1);
      if (!last) return;
      const wanted = batch.filter((e) => consumer.wants(e));
      for (let i = 0; i < wanted.length; i += perDelivery) {
        if (stopped) return;
        const chunk = wanted.slice(i, i + perDelivery);
        await consumer.deliver(chunk);
        parts.onDelivered?.(consumer.name, chunk.length);
        const lastOfChunk = chunk.at(-1);
        // Saved after each delivery: a failure later in the batch re-sends only what was not yet taken.
        if (lastOfChunk && i + perDelivery < wanted.length) await advance(state, lastOfChunk.seq);
      }
      await advance(state, last.seq);
      cursor = last.seq;
      if (batch.length < batchSize && !state.again) return;
    }
  }

  function start(state: ConsumerState): void {
    state.running = drain(state)
      .then(
        () => {
          if (state.failures > 0) parts.onRecovered?.(state.consumer.name, state.failures);
          state.failures = 0;
          state.retryAt = 0;
        },
        (e: Error) => {
          state.failures += 1;
          // Equal jitter: half the delay fixed, half random, so consumers failing together spread out.
          const base = backoffMs(state.failures, retry);
          const delay = Math.round(base / 2 + (random() * base) / 2);
          state.retryAt = clock.now().getTime() + delay;
          // A little late on purpose: timers may fire a millisecond before the clock says the retry is due.
          if (parts.wake) setTimeout(parts.wake, delay + 10).unref();
          parts.onFailure?.(state.consumer.name, e, state.failures, delay);
        },
      )
      .finally(() => {
        state.running = null;
      });
  }

  return {
    async pass() {
      if (stopped) return;
      const now = clock.now().getTime();
      for (const state of states) {
        if (state.running) state.again = true;
        else if (now >= state.retryAt) start(state);
      }
      if (parts.onLag) {
        const head = (await store.auditHead())?.seq ?? 0;
        for (const state of states) {
          if (state.cursor !== null) parts.onLag(state.consumer.name, Math.max(0, head - state.cursor));
        }
      }
    },
    async idle() {
      await Promise.all(states.map((s) => s.running));
    },
    async stop() {
      stopped = true;
      await Promise.all(states.map((s) => s.running));
    },
  };
}
