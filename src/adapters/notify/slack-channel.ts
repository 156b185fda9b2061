import type { KnownBlock } from '@slack/web-api';
import { ErrorCode, WebClient } from '@slack/web-api';
import type { ChannelConfigOf } from '../../config/notification-schema.js';
import type { NotificationChannel, Undeliverable } from '../../services/notification-channel.js';
import { readSecretFile } from '../secret-file.js';
import { slackBlocks } from './slack-blocks.js';

/** Platform errors that say one destination will never take a message; the others are retried. */
const refusesDestination = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'users_not_found',
  'user_not_found',
  'cannot_dm_bot',
  'user_disabled',
]);

/** What the interaction handler asks of Slack: who clicked, and telling them how it went. */
export interface SlackReplies {
  /** The clicker's profile e-mail (users.info; the app needs users:read.email); null: none. */
  emailOf(slackUser: string): Promise<string | null>;
  /** A message only the clicker sees, in the conversation they clicked in. */
  tellUser(conversation: string, slackUser: string, text: string): Promise<void>;
  /** Rewrites the message clicked on (chat.update). */
  update(conversation: string, ts: string, text: string, blocks: KnownBlock[]): Promise<void>;
}

export type SlackChannel = NotificationChannel & SlackReplies & { signingSecret: string | null };

function describe(err: unknown): { permanent: boolean; message: string } {
  const e = err as { code?: string; data?: { error?: string }; statusCode?: number; retryAfter?: number };
  if (e.code === ErrorCode.PlatformError) {
    const error = e.data?.error ?? 'unknown_error';
    return { permanent: refusesDestination.has(error), message: `Slack answered ${error}` };
  }
  if (e.code === ErrorCode.RateLimitedError)
    return { permanent: false, message: `Slack rate-limited us (retry after ${e.retryAfter}s)` };
  if (e.code === ErrorCode.HTTPError)
    return { permanent: false, message: `Slack answered HTTP ${e.statusCode}` };
  return { permanent: false, message: `Slack could not be reached: ${(err as Error).message}` };
}

/**
 * Slack through its Web API (@slack/web-api): people get direct messages (found by their e-mail with
 * users.lookupByEmail), conversations named in rules get posts. A pending request carries Approve/Deny
 * buttons when the signing secret is set, since only then can Elevate verify the clicks.
 */
export async function createSlackChannel(
  config: ChannelConfigOf<'slack'>,
  undeliverable: Undeliverable,
): Promise<SlackChannel> {
  const field = `notifications.channels.${config.name}`;
  const token = await readSecretFile(config.tokenFile, `${field}.tokenFile`);
  const signingSecret = config.signingSecretFile
    ? await readSecretFile(config.signingSecretFile, `${field}.signingSecretFile`)
    : null;
  const slackApiUrl = config.apiUrl.endsWith('/') ? config.apiUrl : `${config.apiUrl}/`;
  // Rate limits are waited out as Slack's Retry-After says, a few times; past that the outbox retries.
  const client = new WebClient(token, {
    slackApiUrl,
    timeout: config.timeout,
    retryConfig: { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 2_000 },
    allowAbsoluteUrls: false,
  });
  /** E-mail → Slack user id; people rarely change address, and lookupByEmail is rate-limited (tier 3). */
  const ids = new Map<string, { id: string | null; at: number }>();
  async function userIdOf(address: string): Promise<string | null> {
    const known = ids.get(address);
    if (known && Date.now() - known.at < 60 * 60_000) return known.id;
    let id: string | null = null;
    try {
      id = (await client.users.lookupByEmail({ email: address })).user?.id ?? null;
    } catch (err) {
      const { permanent, message } = describe(err);
      if (!permanent) throw new Error(message);
    }
    ids.set(address, { id, at: Date.now() });
    return id;
  }

  async function post(conversation: string, text: string, blocks: KnownBlock[]): Promise<void> {
    try {
      await client.chat.postMessage({ channel: conversation, text, blocks, unfurl_links: false });
    } catch (err) {
      const { permanent, message } = describe(err);
      if (!permanent) throw new Error(message);
      undeliverable(config.name, conversation, message);
    }
  }

  return {
    name: config.name,
    type: 'slack',
    signingSecret,
    async send(notice, to) {
      const blocks = slackBlocks(notice, signingSecret !== null);
      const text = `[elevate] ${notice.title}`;
      const destinations = new Set(to.destinations);
      // A notice for no one person goes to the channel's own conversation when no rule named one.
      if (to.people.length === 0 && destinations.size === 0 && config.conversation)
        destinations.add(config.conversation);
      for (const person of to.people) {
        if (!person.address) {
          undeliverable(config.name, person.user, 'no e-mail address known to find them in Slack');
          continue;
        }
        const id = await userIdOf(person.address);
        if (id) destinations.add(id);
        else undeliverable(config.name, person.user, 'no Slack user has their e-mail address');
      }
      for (const conversation of destinations) await post(conversation, text, blocks);
    },
    async emailOf(slackUser) {
      try {
        const info = await client.users.info({ user: slackUser });
        return info.user?.profile?.email ?? null;
      } catch (err) {
        const { permanent, message } = describe(err);
        if (permanent) return null;
        throw new Error(message);
      }
    },
    async tellUser(conversation, slackUser, text) {
      await client.chat.postEphemeral({ channel: conversation, user: slackUser, text });
    },
    async update(conversation, ts, text, blocks) {
      await client.chat.update({ channel: conversation, ts, text, blocks });
    },
  };
}
