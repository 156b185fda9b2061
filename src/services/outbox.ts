import { type AuditEvent, systemActor } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import { backoffMs } from '../jobs/backoff.js';
import { SinkRejected } from './audit-sink.js';
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
  /**
   * Refusals of one event (SinkRejected) before it is skipped and recorded as such, so that one event a
   * sink will never take does not hold up everything after it. Absent: never skipped, retried for ever
   * (a notice that must not be dropped).
   */
  maxAttempts?: number;
  wants(event: AuditEvent): boolean;
  /**
   * Delivers in order; throws to have the same events offered again later (at-least-once). SinkRejected
   * says the consumer refused for good: naming the event (its seq), or, without one, the batch is offered
   * again event by event to find it.
   */
  deliver(events: AuditEvent[]): Promise<void>;
}

export interface OutboxRelayParts {
  store: Pick<
    Store,
    | 'getOutboxCursor'
    | 'saveOutboxCursor'
    | 'recordOutboxFailure'
    | 'skipOutboxEvent'
    | 'listAudit'
    | 'auditHead'
  >;
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
  /** How far behind the head the consumer is: events, and the age of the oldest it has not taken (s). */
  onLag?: (consumer: string, events: number, seconds: number) => void;
  onSkipped?: (consumer: string, seq: number, error: string) => void;
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
  /** After a refusal that named no event: deliver one at a time up to this seq, to find the one refused. */
  isolateThrough: number | null;
  /** The error the drain already recorded in the store (a refusal), not to be recorded twice. */
  recorded: unknown;
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
    isolateThrough: null,
    recorded: null,
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
      const batch = await store.listAudit({ afterSeq: cursor, limit: Math.max(batchSize, perDelivery) });
      const last = batch.at(-1);
      if (!last) return;
      const wanted = batch.filter((e) => consumer.wants(e));
      let i = 0;
      while (i < wanted.length) {
        if (stopped) return;
        const first = wanted[i] as AuditEvent;
        const isolating = state.isolateThrough !== null && first.seq <= state.isolateThrough;
        const chunk = wanted.slice(i, i + (isolating ? 1 : perDelivery));
        const outcome = await deliverChunk(state, chunk);
        if (outcome === 'isolate') continue;
        if (outcome === 'skipped') break;
        i += chunk.length;
        const lastOfChunk = chunk.at(-1);
        // Saved after each delivery: a failure later in the batch re-sends only what was not yet taken.
        if (lastOfChunk && i < wanted.length) await advance(state, lastOfChunk.seq);
      }
      if ((state.cursor ?? 0) < last.seq && i >= wanted.length) await advance(state, last.seq);
      cursor = state.cursor ?? last.seq;
      if (batch.length < batchSize && !state.again && i >= wanted.length) return;
    }
  }

  /**
   * One delivery. A refusal for good (SinkRejected) of a consumer with maxAttempts is handled here: a
   * refusal naming no event has the batch offered again one by one ('isolate'); one naming its event
   * counts an attempt for it in the store, and at maxAttempts skips it ('skipped': the cursor now stands
   * on it). Every other failure is thrown, for the retry with backoff.
   */
  async function deliverChunk(
    state: ConsumerState,
    chunk: AuditEvent[],
  ): Promise<'delivered' | 'isolate' | 'skipped'> {
    const { consumer } = state;
    try {
      await consumer.deliver(chunk);
      parts.onDelivered?.(consumer.name, chunk.length);
      return 'delivered';
    } catch (e) {
      if (!(e instanceof SinkRejected) || consumer.maxAttempts === undefined) throw e;
      const refused = e.seq ?? (chunk.length === 1 ? chunk[0]?.seq : undefined);
      const at = clock.now();
      if (refused === undefined) {
        state.isolateThrough = chunk.at(-1)?.seq ?? null;
        await store.recordOutboxFailure(consumer.name, { error: e.message, at });
        return 'isolate';
      }
      // The sink took what came before the event it refused.
      const taken = chunk.filter((ev) => ev.seq < refused).at(-1);
      if (taken) await advance(state, taken.seq);
      const { attempts } = await store.recordOutboxFailure(consumer.name, {
        error: e.message,
        at,
        refusedSeq: refused,
      });
      if (attempts < consumer.maxAttempts) {
        state.recorded = e;
        throw e;
      }
      const refusedEvent = chunk.find((ev) => ev.seq === refused);
      await store.skipOutboxEvent(consumer.name, { seq: refused, error: e.message, at }, [
        {
          time: at,
          actor: systemActor,
          action: 'AuditDeliverySkipped',
          requestId: null,
          cluster: null,
          details: {
            consumer: consumer.name,
            seq: refused,
            action: refusedEvent?.action,
            attempts,
            error: e.message,
          },
        },
      ]);
      state.cursor = Math.max(state.cursor ?? 0, refused);
      parts.onSkipped?.(consumer.name, refused, e.message);
      return 'skipped';
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
        async (e: Error) => {
          state.failures += 1;
          if (state.recorded !== e) {
            await store
              .recordOutboxFailure(state.consumer.name, { error: e.message, at: clock.now() })
              .catch(() => {});
          }
          state.recorded = null;
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
          if (state.cursor === null) continue;
          const events = Math.max(0, head - state.cursor);
          const oldest =
            events > 0 ? (await store.listAudit({ afterSeq: state.cursor, limit: 1 }))[0] : undefined;
          const seconds = oldest ? Math.max(0, (now - oldest.time.getTime()) / 1000) : 0;
          parts.onLag(state.consumer.name, events, seconds);
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
