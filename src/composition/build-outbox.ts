import type { Logger } from 'pino';
import { createWebhookNotifier } from '../adapters/notify/webhook-notifier.js';
import type { Config } from '../config/load-config.js';
import type { Clock } from '../domain/clock.js';
import { createOutboxRelayLoop } from '../jobs/outbox-relay.js';
import type { LeaderLoop } from '../jobs/periodic-loop.js';
import type { AuditSink } from '../services/audit-sink.js';
import { sinkConsumer, sinkConsumerName } from '../services/audit-streaming.js';
import { createOutboxRelay, type OutboxConsumer } from '../services/outbox.js';
import type { Store } from '../services/ports.js';
import type { Adapters } from './open-adapters.js';
import { openAuditSinks } from './open-audit-sinks.js';

export interface OutboxParts {
  config: Config;
  store: Store;
  metrics: Adapters['metrics'];
  clock: Clock;
  logger: Logger;
  /** Notification channels' consumers, by channel name (composition/build-notifications.ts). */
  notifications?: { channel: string; consumer: OutboxConsumer }[];
  /** Defaults to a pass every 1s and retries from 1s up to 60s; tests may pass their own. */
  everyMs?: number;
  retry?: { minMs: number; maxMs: number };
}

/**
 * The one outbox relay and its consumers, each with its own cursor so a dead one holds up no other: the
 * audit sinks (audit.sinks, the whole trail), the notification channels and the break-glass webhooks
 * (breakglass.notify). The relay
 * runs on the lease holder only, poked by every audit write this server commits.
 */
export async function buildOutbox(parts: OutboxParts) {
  const { config, store, metrics, clock, logger, everyMs, retry } = parts;
  const sinks = await openAuditSinks(config.file, config.auditSinks);
  const consumers: OutboxConsumer[] = [];
  /** Per consumer, what logs and metrics call it: a sink by name and type, a webhook by its origin only. */
  const described = new Map<string, { sink?: string; type?: string; url?: string; channel?: string }>();
  config.auditSinks.forEach((c, i) => {
    const sink = sinks[i] as AuditSink;
    const consumer = sinkConsumer(sink, c);
    consumers.push(consumer);
    described.set(consumer.name, { sink: sink.name, type: sink.type });
  });
  for (const url of config.breakglass?.notify ?? []) {
    const notifier = createWebhookNotifier(url);
    consumers.push(notifier);
    described.set(notifier.name, { url: notifier.origin });
  }
  for (const { channel, consumer } of parts.notifications ?? []) {
    consumers.push(consumer);
    described.set(consumer.name, { channel });
  }
  const sinkOf = (consumer: string) => described.get(consumer)?.sink;
  const channelOf = (consumer: string) => described.get(consumer)?.channel;
  const where = (consumer: string) => ({ consumer, ...described.get(consumer) });
  let current: LeaderLoop | null = null;
  metrics.whenAuditWritten(() => current?.poke());

  const newLoop = (): LeaderLoop => {
    const relay = createOutboxRelay({
      store,
      consumers,
      clock,
      retry,
      wake: () => current?.poke(),
      onDelivered: (consumer, count) => {
        const sink = sinkOf(consumer);
        const channel = channelOf(consumer);
        if (sink) metrics.sinkDelivered(sink, count);
        else if (channel) metrics.notificationDelivered(channel, count);
        else metrics.outboxDelivered(consumer, count);
      },
      onLag: (consumer, events, seconds) => {
        const sink = sinkOf(consumer);
        const channel = channelOf(consumer);
        if (sink) metrics.sinkLag(sink, events, seconds);
        else if (channel) metrics.notificationLag(channel, events);
        else metrics.outboxLag(consumer, events);
      },
      onFailure: (consumer, err, failures, retryInMs) => {
        const sink = sinkOf(consumer);
        const channel = channelOf(consumer);
        if (sink) metrics.sinkFailed(sink);
        else if (channel) metrics.notificationFailed(channel);
        else metrics.outboxFailed(consumer);
        logger.warn(
          { ...where(consumer), err: err.message, failures, retryInMs },
          sink
            ? 'could not deliver to an audit sink; will retry'
            : channel
              ? 'could not send to a notification channel; will retry'
              : 'could not deliver to an outbox consumer; will retry',
        );
      },
      onSkipped: (consumer, seq, error) => {
        const sink = sinkOf(consumer);
        if (sink) metrics.sinkSkipped(sink);
        logger.error(
          { ...where(consumer), seq, err: error },
          'gave up on an audit event the sink keeps refusing',
        );
      },
      onRecovered: (consumer, failures) => logger.info({ ...where(consumer), failures }, 'delivering again'),
    });
    const loop = createOutboxRelayLoop(relay, {
      everyMs,
      onError: (err) => logger.warn({ err: err.message }, 'outbox relay pass failed; will retry'),
    });
    current = loop;
    return loop;
  };
  return {
    newLoop,
    hasConsumers: consumers.length > 0,
    consumers,
    /** The sinks with their cursor names, for `elevate audit sinks`. */
    sinks: sinks.map((s) => ({ name: s.name, type: s.type, consumer: sinkConsumerName(s.name) })),
    close: () => Promise.all(sinks.map((s) => s.close?.())),
  };
}
