import type { Logger } from 'pino';
import { createEmailChannel } from '../adapters/notify/email-channel.js';
import { createSlackChannel, type SlackChannel } from '../adapters/notify/slack-channel.js';
import { createSlackInteractions } from '../adapters/notify/slack-interactions.js';
import { createWebhookChannel } from '../adapters/notify/webhook-channel.js';
import type { Config } from '../config/load-config.js';
import type { ChannelConfig } from '../config/notification-schema.js';
import type { Clock } from '../domain/clock.js';
import { createPeriodicLoop, type LeaderLoop } from '../jobs/periodic-loop.js';
import { createChatApprovals } from '../services/chat-approvals.js';
import { createExpiryWarnings } from '../services/expiry-warnings.js';
import type { NotificationChannel, Undeliverable } from '../services/notification-channel.js';
import { channelConsumer, createAddressBook } from '../services/notifications.js';
import type { PeopleDirectory } from '../services/people-directory.js';
import type { Store } from '../services/ports.js';
import type { RequestService } from '../services/request-service.js';
import type { Adapters } from './open-adapters.js';

function openChannel(c: ChannelConfig, undeliverable: Undeliverable): Promise<NotificationChannel> {
  switch (c.type) {
    case 'slack':
      return createSlackChannel(c, undeliverable);
    case 'email':
      return createEmailChannel(c, undeliverable);
    case 'webhook':
      return createWebhookChannel(c);
  }
}

/**
 * Notifications: each channel an outbox consumer fed by the rules, the leader's loop that writes
 * GrantExpiringSoon for rules that want grant.expiring, and Slack's Approve/Deny clicks.
 */
export async function buildNotifications(parts: {
  config: Config;
  store: Store;
  requests: RequestService;
  people: PeopleDirectory;
  metrics: Adapters['metrics'];
  clock: Clock;
  logger: Logger;
}) {
  const { config, store, clock, logger, metrics } = parts;
  const { channels: channelConfigs, rules, addresses: addressMap, expiryWarningMs } = config.notifications;
  const undeliverable: Undeliverable = (channel, recipient, reason) => {
    metrics.notificationUndeliverable(channel);
    logger.warn({ channel, recipient, reason }, 'a notice cannot reach this recipient; not retried');
  };
  const channels = await Promise.all(channelConfigs.map((c) => openChannel(c, undeliverable)));
  const addresses = createAddressBook(addressMap);
  const consumers = channels.map((channel) => ({
    channel: channel.name,
    consumer: channelConsumer(channel, rules, { store, addresses }),
  }));
  const slackInteractions = createSlackInteractions({
    channels: channels.filter((c): c is SlackChannel => c.type === 'slack'),
    approvals: createChatApprovals({ requests: parts.requests, people: parts.people, addresses, clock }),
    store,
    clock,
    logger,
  });
  const warnings = createExpiryWarnings({ store, clock, leadMs: expiryWarningMs });
  const wantsExpiring = rules.some((r) => r.events.includes('grant.expiring'));
  const newExpiryLoop = (): LeaderLoop =>
    createPeriodicLoop({
      // Often enough that a warning comes within a few seconds of its time, rarely enough to cost nothing.
      everyMs: Math.min(15_000, Math.max(1_000, expiryWarningMs / 20)),
      run: async () => {
        await warnings.warnDue();
      },
      onError: (err) => logger.warn({ err: err.message }, 'expiry warnings failed; will retry'),
    });
  return {
    consumers,
    slackInteractions,
    newExpiryLoop: wantsExpiring ? newExpiryLoop : null,
    async close() {
      await slackInteractions.idle();
      await Promise.all(channels.map((c) => c.close?.()));
    },
  };
}
