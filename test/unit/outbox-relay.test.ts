import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/domain/audit-event.js';
import { createOutboxRelayLoop } from '../../src/jobs/outbox-relay.js';
import { SinkRejected } from '../../src/services/audit-sink.js';
import { createOutboxRelay, type OutboxConsumer, type OutboxRelayParts } from '../../src/services/outbox.js';
import { waitFor } from '../support/kube.js';

/** The audit trail and cursors the relay reads and writes, in memory, counting the reads. */
function memoryTrail() {
  const events: AuditEvent[] = [];
  const cursors = new Map<string, number>();
  const reads: { afterSeq?: number; limit?: number }[] = [];
  const failures: { name: string; error: string; refusedSeq?: number }[] = [];
  const poison = new Map<string, { seq: number; attempts: number }>();
  const skipped: { name: string; seq: number }[] = [];
  function append(action: string, count = 1, details: Record<string, unknown> = {}): void {
    for (let i = 0; i < count; i++) {
      const seq = events.length + 1;
      events.push({
        seq,
        hash: `h${seq}`,
        prevHash: `h${seq - 1}`,
        time: new Date(0),
        actor: 'alice',
        action,
        requestId: null,
        cluster: null,
        details,
      });
    }
  }
  const store: OutboxRelayParts['store'] = {
    async getOutboxCursor(name) {
      return cursors.get(name) ?? null;
    },
    async saveOutboxCursor(name, seq) {
      cursors.set(name, seq);
    },
    async recordOutboxFailure(name, { error, refusedSeq }) {
      failures.push({ name, error, refusedSeq });
      const prior = poison.get(name);
      const attempts = refusedSeq === undefined ? 0 : prior?.seq === refusedSeq ? prior.attempts + 1 : 1;
      if (refusedSeq !== undefined) poison.set(name, { seq: refusedSeq, attempts });
      return { failures: failures.filter((f) => f.name === name).length, attempts };
    },
    async skipOutboxEvent(name, { seq }, audit) {
      skipped.push({ name, seq });
      cursors.set(name, Math.max(cursors.get(name) ?? 0, seq));
      for (const e of audit) append(e.action, 1, e.details);
    },
    async listAudit(options = {}) {
      reads.push(options);
      const after = events.filter((e) => e.seq > (options.afterSeq ?? 0));
      return options.limit === undefined ? after : after.slice(0, options.limit);
    },
    async auditHead() {
      const last = events.at(-1);
      return last ? { seq: last.seq, hash: last.hash } : null;
    },
  };
  return { store, cursors, reads, failures, skipped, events, append };
}

/** A consumer recording the seqs it got per delivery; `fail` decides whether a delivery throws. */
function recorder(name: string, options: Partial<OutboxConsumer> & { fail?: () => boolean } = {}) {
  const deliveries: number[][] = [];
  let attempts = 0;
  const consumer: OutboxConsumer = {
    name,
    startAt: 'beginning',
    wants: () => true,
    async deliver(events) {
      attempts += 1;
      if (options.fail?.()) throw new Error('receiver down');
      deliveries.push(events.map((e) => e.seq));
    },
    ...options,
  };
  return {
    consumer,
    deliveries,
    seqs: () => deliveries.flat(),
    attempts: () => attempts,
  };
}

function manualClock(start = 0) {
  let now = start;
  return { now: () => new Date(now), advance: (ms: number) => (now += ms) };
}

async function passAndSettle(relay: ReturnType<typeof createOutboxRelay>): Promise<void> {
  await relay.pass();
  await relay.idle();
}

describe('outbox relay', () => {
  it('delivers the wanted events in order, batch by batch, and saves the cursor after each batch', async () => {
    const trail = memoryTrail();
    for (let i = 0; i < 7; i++) trail.append(i % 2 === 0 ? 'BreakGlassActivated' : 'GrantActivated');
    const sink = recorder('sink', { wants: (e) => e.action === 'BreakGlassActivated' });
    const relay = createOutboxRelay({
      store: trail.store,
      consumers: [sink.consumer],
      clock: manualClock(),
      batchSize: 3,
    });
    await passAndSettle(relay);
    expect(sink.deliveries).toEqual([[1, 3], [5], [7]]);
    expect(trail.cursors.get('sink')).toBe(7);
    expect(trail.reads.map((r) => r.afterSeq)).toEqual([0, 3, 6]);

    trail.append('BreakGlassActivated');
    await passAndSettle(relay);
    expect(sink.seqs()).toEqual([1, 3, 5, 7, 8]);
  });

  it('sends event by event when a consumer asks, so a failure re-sends only what was not yet taken', async () => {
    const trail = memoryTrail();
    trail.append('BreakGlassActivated', 3);
    let calls = 0;
    const hook = recorder('hook', { maxEventsPerDelivery: 1, fail: () => ++calls === 2 });
    const clock = manualClock();
    const relay = createOutboxRelay({ store: trail.store, consumers: [hook.consumer], clock });
    await passAndSettle(relay);
    expect(hook.seqs()).toEqual([1]);
    expect(trail.cursors.get('hook')).toBe(1);
    clock.advance(60_000);
    await passAndSettle(relay);
    expect(hook.seqs()).toEqual([1, 2, 3]);
  });

  it("places a new consumer at the audit head for 'head' and at the first event for 'beginning'", async () => {
    const trail = memoryTrail();
    trail.append('BreakGlassActivated', 3);
    const notifier = recorder('notifier', { startAt: 'head' });
    const sink = recorder('sink', { startAt: 'beginning' });
    const relay = createOutboxRelay({
      store: trail.store,
      consumers: [notifier.consumer, sink.consumer],
      clock: manualClock(),
    });
    await passAndSettle(relay);
    trail.append('BreakGlassModeOn');
    await passAndSettle(relay);
    expect(notifier.seqs()).toEqual([4]);
    expect(sink.seqs()).toEqual([1, 2, 3, 4]);
  });

  it("keeps a 'head' consumer placed on an empty trail at the beginning across restarts", async () => {
    const trail = memoryTrail();
    const first = recorder('notifier', { startAt: 'head', fail: () => true });
    await passAndSettle(
      createOutboxRelay({ store: trail.store, consumers: [first.consumer], clock: manualClock() }),
    );
    trail.append('BreakGlassActivated', 2);
    // Fails while the events are written, then the server restarts: they are still owed.
    await passAndSettle(
      createOutboxRelay({ store: trail.store, consumers: [first.consumer], clock: manualClock() }),
    );
    const restarted = recorder('notifier', { startAt: 'head' });
    await passAndSettle(
      createOutboxRelay({ store: trail.store, consumers: [restarted.consumer], clock: manualClock() }),
    );
    expect(restarted.seqs()).toEqual([1, 2]);
  });

  it('backs a failing consumer off exponentially with jitter, without holding up the others', async () => {
    const trail = memoryTrail();
    trail.append('BreakGlassActivated');
    let down = true;
    const dead = recorder('dead', { fail: () => down });
    const live = recorder('live');
    const clock = manualClock();
    const retries: number[] = [];
    const relay = createOutboxRelay({
      store: trail.store,
      consumers: [dead.consumer, live.consumer],
      clock,
      retry: { minMs: 1_000, maxMs: 8_000 },
      random: () => 0.5,
      onFailure: (_name, _err, _failures, retryInMs) => retries.push(retryInMs),
    });
    await passAndSettle(relay);
    expect(live.seqs()).toEqual([1]);
    for (let i = 0; i < 5; i++) {
      // Passes before the retry is due leave the dead consumer alone.
      await passAndSettle(relay);
      expect(dead.attempts()).toBe(i + 1);
      clock.advance(retries.at(-1) ?? 0);
      trail.append('BreakGlassModeOn');
      await passAndSettle(relay);
    }
    // 1s, 2s, 4s, 8s, 8s (capped), each 3/4 of it with random() = 0.5: half fixed, half random.
    expect(retries).toEqual([750, 1500, 3000, 6000, 6000, 6000]);
    expect(live.seqs()).toEqual([1, 2, 3, 4, 5, 6]);
    down = false;
    clock.advance(6_000);
    await passAndSettle(relay);
    expect(dead.seqs()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(trail.cursors.get('dead')).toBe(6);
  });

  it('asks for a pass when a retry falls due, rather than waiting for the next tick', async () => {
    const trail = memoryTrail();
    trail.append('BreakGlassActivated');
    let calls = 0;
    const hook = recorder('hook', { fail: () => ++calls === 1 });
    const relay: ReturnType<typeof createOutboxRelay> = createOutboxRelay({
      store: trail.store,
      consumers: [hook.consumer],
      clock: { now: () => new Date() },
      retry: { minMs: 20, maxMs: 20 },
      wake: () => void relay.pass(),
    });
    await passAndSettle(relay);
    expect(hook.seqs()).toEqual([]);
    await waitFor(() => hook.seqs().length === 1);
    expect(hook.attempts()).toBe(2);
  });

  it('once stopped, ends a backlog after the delivery under way, its cursor saved there', async () => {
    const trail = memoryTrail();
    trail.append('BreakGlassActivated', 5);
    let release: (() => void) | undefined;
    const hook = recorder('hook', { maxEventsPerDelivery: 1 });
    const slow = {
      ...hook.consumer,
      async deliver(events: AuditEvent[]) {
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        await hook.consumer.deliver(events);
      },
    };
    const relay = createOutboxRelay({ store: trail.store, consumers: [slow], clock: manualClock() });
    await relay.pass();
    const releaseFirst = await waitFor(() => release);
    const stopped = relay.stop();
    releaseFirst();
    await stopped;
    expect(hook.seqs()).toEqual([1]);
    expect(trail.cursors.get('hook')).toBe(1);
    await relay.pass();
    expect(hook.seqs()).toEqual([1]);
  });

  it('does not wait for a hung consumer before delivering to the others', async () => {
    const trail = memoryTrail();
    trail.append('BreakGlassActivated');
    const hung = recorder('hung', { deliver: () => new Promise<void>(() => {}) });
    const live = recorder('live');
    const relay = createOutboxRelay({
      store: trail.store,
      consumers: [hung.consumer, live.consumer],
      clock: manualClock(),
    });
    await relay.pass();
    await waitFor(() => live.seqs().length === 1);
    trail.append('BreakGlassModeOn');
    await relay.pass();
    await waitFor(() => live.seqs().length === 2);
    expect(trail.cursors.get('hung')).toBe(0);
  });

  it("reports each consumer's lag behind the audit head", async () => {
    const trail = memoryTrail();
    trail.append('BreakGlassActivated', 4);
    const lags = new Map<string, number>();
    const dead = recorder('dead', { fail: () => true });
    const live = recorder('live');
    const relay = createOutboxRelay({
      store: trail.store,
      consumers: [dead.consumer, live.consumer],
      clock: manualClock(),
      onLag: (name, events) => lags.set(name, events),
    });
    await passAndSettle(relay);
    await relay.pass();
    expect(Object.fromEntries(lags)).toEqual({ dead: 4, live: 0 });
  });

  it('delivers at once when poked, not at the next tick', async () => {
    const trail = memoryTrail();
    const sink = recorder('sink');
    const relay = createOutboxRelay({ store: trail.store, consumers: [sink.consumer], clock: manualClock() });
    const loop = createOutboxRelayLoop(relay, {
      everyMs: 3_600_000,
      onError: (e) => {
        throw e;
      },
    });
    loop.start();
    await waitFor(() => trail.cursors.has('sink'));
    trail.append('BreakGlassActivated');
    loop.poke();
    await waitFor(() => sink.seqs().length === 1);
    trail.append('BreakGlassModeOff');
    loop.poke();
    await waitFor(() => sink.seqs().length === 2);
    await loop.stop();
    expect(sink.seqs()).toEqual([1, 2]);
  });

  describe('an event a sink refuses for good', () => {
    /** A sink that refuses every batch holding `poison`, naming it or not, and records what it took. */
    function refusing(poison: number, { namesIt }: { namesIt: boolean }) {
      const taken: number[] = [];
      const offered: number[][] = [];
      const consumer: OutboxConsumer = {
        name: 'siem',
        startAt: 'beginning',
        maxEventsPerDelivery: 4,
        maxAttempts: 3,
        wants: () => true,
        async deliver(events) {
          offered.push(events.map((e) => e.seq));
          const at = events.findIndex((e) => e.seq === poison);
          if (at === -1) {
            taken.push(...events.map((e) => e.seq));
            return;
          }
          // Like an Elasticsearch bulk answer: the items before the refused one were indexed.
          if (namesIt) taken.push(...events.slice(0, at).map((e) => e.seq));
          throw new SinkRejected('400 mapper_parsing_exception', namesIt ? poison : undefined);
        },
      };
      return { consumer, taken, offered };
    }

    it('is retried up to maxAttempts, then skipped with an audit event, and everything after it goes', async () => {
      const trail = memoryTrail();
      trail.append('GrantActivated', 10);
      const sink = refusing(6, { namesIt: true });
      const clock = manualClock();
      const relay = createOutboxRelay({ store: trail.store, consumers: [sink.consumer], clock });
      for (let attempt = 1; attempt <= 3; attempt++) {
        await passAndSettle(relay);
        clock.advance(120_000);
      }
      await passAndSettle(relay);
      expect(trail.skipped).toEqual([{ name: 'siem', seq: 6 }]);
      expect(trail.failures.filter((f) => f.refusedSeq === 6)).toHaveLength(3);
      // 1-5 once, 6 never, 7-10 and then the skip's own audit event (11).
      expect(sink.taken).toEqual([1, 2, 3, 4, 5, 7, 8, 9, 10, 11]);
      const skipEvent = trail.events.at(-1);
      expect(skipEvent?.action).toBe('AuditDeliverySkipped');
      expect(skipEvent?.details).toMatchObject({
        consumer: 'siem',
        seq: 6,
        action: 'GrantActivated',
        attempts: 3,
      });
      expect(trail.cursors.get('siem')).toBe(11);
    });

    it('that the sink does not name is found by offering the batch event by event', async () => {
      const trail = memoryTrail();
      trail.append('GrantActivated', 8);
      const sink = refusing(3, { namesIt: false });
      const clock = manualClock();
      const relay = createOutboxRelay({ store: trail.store, consumers: [sink.consumer], clock });
      for (let attempt = 1; attempt <= 3; attempt++) {
        await passAndSettle(relay);
        clock.advance(120_000);
      }
      await passAndSettle(relay);
      expect(sink.offered[0]).toEqual([1, 2, 3, 4]);
      // Then one at a time through the refused batch: 1, 2 taken, 3 refused.
      expect(sink.offered.slice(1, 4)).toEqual([[1], [2], [3]]);
      expect(trail.skipped).toEqual([{ name: 'siem', seq: 3 }]);
      expect(sink.taken).toEqual([1, 2, 4, 5, 6, 7, 8, 9]);
    });

    it('is never skipped for a consumer without maxAttempts: it waits, and nothing after it goes', async () => {
      const trail = memoryTrail();
      trail.append('BreakGlassActivated', 4);
      const sink = refusing(2, { namesIt: true });
      const { maxAttempts: _, ...notice } = sink.consumer;
      const clock = manualClock();
      const relay = createOutboxRelay({ store: trail.store, consumers: [notice], clock });
      for (let attempt = 1; attempt <= 6; attempt++) {
        await passAndSettle(relay);
        clock.advance(120_000);
      }
      expect(trail.skipped).toEqual([]);
      // Re-sent with the refused one each time (at least once), and never anything after it.
      expect(new Set(sink.taken)).toEqual(new Set([1]));
      expect(trail.cursors.get('siem') ?? 0).toBeLessThan(2);
    });
  });
});
