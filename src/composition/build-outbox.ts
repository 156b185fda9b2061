import type { Logger } from 'pino';
import { createWebhookNotifier } from '../adapters/notify/webhook-notifier.js';
import type { Config } from '../config/load-config.js';
import type { Clock } from '../domain/clock.js';
import { createOutboxRelayLoop } from '../jobs/outbox-relay.js';
import type { LeaderLoop } from '../jobs/periodic-loop.js';
import { createOutboxRelay, type OutboxConsumer } from '../services/outbox.js';
import type { Store } from '../services/ports.js';
import type { Adapters } from './open-adapters.js';

export interface OutboxParts {
  config: Config;
  store: Store;
  metrics: Adapters['metrics'];
  clock: Clock;
  logger: Logger;
  /** Defaults to a pass every 1s and retries from 1s up to 60s; tests may pass their own. */
  everyMs?: number;
  retry?: { minMs: number; maxMs: number };
}

/**
 * The one outbox relay and its consumers: today the break-glass webhooks (breakglass.notify), each with
 * its own cursor so a dead URL holds up no other. The relay runs on the lease holder only, poked by every
 * audit write this server commits.
 */
export function buildOutbox({ config, store, metrics, clock, logger, everyMs, retry }: OutboxParts) {
  const origins = new Map<string, string>();
  const consumers: OutboxConsumer[] = (config.breakglass?.notify ?? []).map((url) => {
    const notifier = createWebhookNotifier(url);
    origins.set(notifier.name, notifier.origin);
    return notifier;
  });
  const where = (consumer: string) => ({ consumer, url: origins.get(consumer) });
  let current: LeaderLoop | null = null;
  metrics.whenAuditWritten(() => current?.poke());

  const newLoop = (): LeaderLoop => {
    const relay = createOutboxRelay({
      store,
      consumers,
      clock,
      retry,
      wake: () => current?.poke(),
      onDelivered: (consumer, count) => metrics.outboxDelivered(consumer, count),
      onLag: (consumer, events) => metrics.outboxLag(consumer, events),
      onFailure: (consumer, err, failures, retryInMs) => {
        metrics.outboxFailed(consumer);
        logger.warn(
          { ...where(consumer), err: err.message, failures, retryInMs },
          'could not deliver to an outbox consumer; will retry',
        );
      },
      onRecovered: (consumer, failures) =>
        logger.info({ ...where(consumer), failures }, 'outbox consumer delivering again'),
    });
    const loop = createOutboxRelayLoop(relay, {
      everyMs,
      onError: (err) => logger.warn({ err: err.message }, 'outbox relay pass failed; will retry'),
    });
    current = loop;
    return loop;
  };
  return { newLoop, hasConsumers: consumers.length > 0, consumers };
}
