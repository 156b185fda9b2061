import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { KnownBlock } from '@slack/web-api';
import type { Logger } from 'pino';
import { systemActor } from '../../domain/audit-event.js';
import type { Clock } from '../../domain/clock.js';
import { Conflict, Invalid, Unauthenticated } from '../../domain/errors.js';
import type { ChatApprovals } from '../../services/chat-approvals.js';
import type { Store } from '../../services/ports.js';
import { approveAction, decidedBlocks, denyAction } from './slack-blocks.js';
import type { SlackChannel } from './slack-channel.js';

/** Slack's own rule: a request signed more than 5 minutes from now is refused (a replay, or a wrong clock). */
const toleranceMs = 5 * 60_000;

/** `v0=<hex HMAC-SHA256 of "v0:<timestamp>:<raw body>">`, as Slack signs every request it sends an app. */
export function slackSignature(secret: string, timestamp: string, rawBody: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
}

interface BlockAction {
  slackUser: string;
  conversation: string;
  ts: string;
  action: typeof approveAction | typeof denyAction;
  requestId: string;
  blocks: KnownBlock[];
}

/** The one click Elevate acts on: an Approve or Deny button of its own message; anything else is ignored. */
function blockActionOf(payloadText: string): BlockAction | null {
  let p: {
    type?: string;
    user?: { id?: string };
    channel?: { id?: string };
    container?: { channel_id?: string; message_ts?: string };
    message?: { ts?: string; blocks?: KnownBlock[] };
    actions?: { action_id?: string; value?: string }[];
  };
  try {
    p = JSON.parse(payloadText);
  } catch {
    throw new Invalid('payload is not JSON');
  }
  const action = p.actions?.[0];
  if (p.type !== 'block_actions' || !action) return null;
  if (action.action_id !== approveAction && action.action_id !== denyAction) return null;
  const conversation = p.channel?.id ?? p.container?.channel_id;
  const ts = p.message?.ts ?? p.container?.message_ts;
  if (!p.user?.id || !conversation || !ts || !action.value)
    throw new Invalid('a block action without user, channel, message or value');
  return {
    slackUser: p.user.id,
    conversation,
    ts,
    action: action.action_id,
    requestId: action.value,
    blocks: p.message?.blocks ?? [],
  };
}

export interface SlackInteractionDeps {
  channels: SlackChannel[];
  approvals: ChatApprovals;
  store: Pick<Store, 'rememberCallback' | 'appendAudit'>;
  clock: Clock;
  logger: Logger;
}

/**
 * Slack's interaction callback. The signature is checked against every Slack channel's signing secret
 * (the one that matches is the app that sent it); the click is then acted on after the answer, since Slack
 * waits 3 seconds at most and an approval that completes a quorum writes to the cluster. How it went is
 * told to the clicker in Slack; every refusal is audited (ChatActionRefused).
 */
export function createSlackInteractions(deps: SlackInteractionDeps) {
  const pending = new Set<Promise<void>>();

  async function refuse(why: string, details: Record<string, unknown>, requestId: string | null = null) {
    deps.logger.warn({ why, ...details }, 'refused a Slack interaction');
    await deps.store.appendAudit([
      {
        time: deps.clock.now(),
        actor: systemActor,
        action: 'ChatActionRefused',
        requestId,
        cluster: null,
        details: { via: 'slack', why, ...details },
      },
    ]);
  }

  async function act(channel: SlackChannel, click: BlockAction): Promise<void> {
    const address = await channel.emailOf(click.slackUser);
    const outcome = await deps.approvals.decide({
      address,
      requestId: click.requestId,
      decision: click.action === approveAction ? 'approve' : 'deny',
      via: 'slack',
    });
    if (!outcome.done) {
      await refuse(outcome.message, { slackUser: click.slackUser, email: address }, click.requestId);
      await channel.tellUser(click.conversation, click.slackUser, `Elevate refused: ${outcome.message}`);
      return;
    }
    const r = outcome.request;
    const verb = click.action === approveAction ? 'Approved' : 'Denied';
    const got = r.approvals.filter((a) => a.decision === 'Approved').length;
    const text =
      r.phase === 'Pending'
        ? `${verb} by ${outcome.by} in Slack (${got} of ${r.policy.required} approvals so far)`
        : `${verb} by ${outcome.by} in Slack: the request is ${r.phase}`;
    if (r.phase === 'Pending') await channel.tellUser(click.conversation, click.slackUser, text);
    else await channel.update(click.conversation, click.ts, text, decidedBlocks(click.blocks, text));
  }

  return {
    /** Checks the call; resolves once it is accepted (the click is acted on after), throws when refused. */
    async receive(call: { timestamp?: string; signature?: string; rawBody: string }): Promise<void> {
      const { timestamp, signature, rawBody } = call;
      const badSignature = 'the request is not signed by a configured Slack app';
      if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) {
        await refuse('unsigned', {});
        throw new Unauthenticated(badSignature);
      }
      const given = Buffer.from(signature);
      const channel = deps.channels.find((c) => {
        const expected = Buffer.from(slackSignature(c.signingSecret ?? '', timestamp, rawBody));
        return c.signingSecret && expected.length === given.length && timingSafeEqual(expected, given);
      });
      if (!channel) {
        await refuse('bad signature', {});
        throw new Unauthenticated(badSignature);
      }
      const now = deps.clock.now();
      if (Math.abs(now.getTime() - Number(timestamp) * 1000) > toleranceMs) {
        await refuse('stale timestamp', { channel: channel.name });
        throw new Unauthenticated('the request’s timestamp is more than 5 minutes from now');
      }
      const digest = createHash('sha256').update(signature).digest('hex');
      if (
        !(await deps.store.rememberCallback('slack', digest, now, new Date(now.getTime() - 2 * toleranceMs)))
      ) {
        await refuse('replayed', { channel: channel.name });
        throw new Conflict('this interaction was received before (a replay)');
      }
      const payload = new URLSearchParams(rawBody).get('payload');
      if (!payload) throw new Invalid('no payload field in the form');
      const click = blockActionOf(payload);
      if (!click) return;
      const work = act(channel, click)
        .catch((err: Error) =>
          deps.logger.error({ err: err.message, request: click.requestId }, 'could not act on a Slack click'),
        )
        .finally(() => pending.delete(work));
      pending.add(work);
    },
    /** Resolves once every click being acted on is done (shutdown, tests). */
    async idle(): Promise<void> {
      await Promise.all([...pending]);
    },
  };
}
export type SlackInteractions = ReturnType<typeof createSlackInteractions>;
