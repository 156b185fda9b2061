import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type SaasControls, sendJson, startSaasServer } from './saas-server.js';

export interface SlackUser {
  id: string;
  name: string;
  email?: string;
}

export interface SlackPost {
  channel: string;
  ts: string;
  text: string;
  blocks: Record<string, unknown>[];
}

/**
 * The Slack Web API as documented, for the methods Elevate calls: POST /api/<method> with the bot token in
 * `Authorization: Bearer`, arguments form-encoded (nested ones as JSON) or as JSON; every answer is HTTP 200
 * with `{"ok": true, …}` or `{"ok": false, "error": "…"}` (not_authed, invalid_auth, channel_not_found,
 * users_not_found, user_not_found, message_not_found, invalid_blocks), and 429 with Retry-After when rate
 * limited. Conversations are known by id (C…) or by #name; a user's id works as a DM conversation.
 */
export async function startSlack(opts: {
  token: string;
  users: SlackUser[];
  channels: { id: string; name: string }[];
}) {
  const jsonArguments = new Set(['blocks', 'attachments', 'metadata']);
  const posts: SlackPost[] = [];
  const ephemerals: { channel: string; user: string; text: string }[] = [];
  const updates: SlackPost[] = [];
  const limited = { count: 0, retryAfter: 1 };
  let seq = 0;
  const nextTs = () => `${Math.floor(Date.now() / 1000)}.${String(++seq).padStart(6, '0')}`;

  function conversation(ref: unknown): string | null {
    if (typeof ref !== 'string') return null;
    const byName = opts.channels.find((c) => `#${c.name}` === ref || c.name === ref);
    if (byName) return byName.id;
    if (opts.channels.some((c) => c.id === ref)) return ref;
    if (opts.users.some((u) => u.id === ref)) return ref;
    return null;
  }

  function args(req: IncomingMessage, body: string): Record<string, unknown> {
    if (req.headers['content-type']?.startsWith('application/json')) return body ? JSON.parse(body) : {};
    const out: Record<string, unknown> = {};
    for (const [k, v] of new URLSearchParams(body)) {
      // The Web API takes structured arguments as JSON strings in the form.
      out[k] = jsonArguments.has(k) ? JSON.parse(v) : v;
    }
    return out;
  }

  const methods: Record<string, (a: Record<string, unknown>) => Record<string, unknown>> = {
    'auth.test': () => ({ ok: true, team: 'elevate-test', user: 'elevate', bot_id: 'B0ELEVATE' }),
    'chat.postMessage': (a) => {
      const channel = conversation(a.channel);
      if (!channel) return { ok: false, error: 'channel_not_found' };
      if (a.blocks !== undefined && !Array.isArray(a.blocks)) return { ok: false, error: 'invalid_blocks' };
      const post = {
        channel,
        ts: nextTs(),
        text: String(a.text ?? ''),
        blocks: (a.blocks ?? []) as SlackPost['blocks'],
      };
      posts.push(post);
      return { ok: true, channel, ts: post.ts, message: { text: post.text, blocks: post.blocks } };
    },
    'chat.postEphemeral': (a) => {
      const channel = conversation(a.channel);
      if (!channel) return { ok: false, error: 'channel_not_found' };
      if (!opts.users.some((u) => u.id === a.user)) return { ok: false, error: 'user_not_found' };
      ephemerals.push({ channel, user: String(a.user), text: String(a.text ?? '') });
      return { ok: true, message_ts: nextTs() };
    },
    'chat.update': (a) => {
      const post = posts.find((p) => p.channel === conversation(a.channel) && p.ts === a.ts);
      if (!post) return { ok: false, error: 'message_not_found' };
      post.text = String(a.text ?? post.text);
      post.blocks = (a.blocks ?? post.blocks) as SlackPost['blocks'];
      updates.push({ ...post });
      return { ok: true, channel: post.channel, ts: post.ts, text: post.text };
    },
    'users.info': (a) => {
      const user = opts.users.find((u) => u.id === a.user);
      if (!user) return { ok: false, error: 'user_not_found' };
      return {
        ok: true,
        user: { id: user.id, name: user.name, profile: { email: user.email, real_name: user.name } },
      };
    },
    'users.lookupByEmail': (a) => {
      const email = String(a.email ?? '').toLowerCase();
      const user = opts.users.find((u) => u.email?.toLowerCase() === email);
      if (!user) return { ok: false, error: 'users_not_found' };
      return { ok: true, user: { id: user.id, name: user.name, profile: { email: user.email } } };
    },
  };

  const controls: SaasControls = await startSaasServer((req, res, body) => {
    const method = /^\/api\/([a-zA-Z.]+)$/.exec((req.url ?? '').split('?')[0] ?? '')?.[1];
    const handle = method ? methods[method] : undefined;
    if (!handle) return sendJson(res, 404, { ok: false, error: 'unknown_method' });
    if (limited.count > 0) {
      limited.count -= 1;
      return sendJson(
        res,
        429,
        { ok: false, error: 'ratelimited' },
        { 'retry-after': String(limited.retryAfter) },
      );
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer) return sendJson(res, 200, { ok: false, error: 'not_authed' });
    if (bearer !== opts.token) return sendJson(res, 200, { ok: false, error: 'invalid_auth' });
    let a: Record<string, unknown>;
    try {
      a = args(req, body);
    } catch {
      return sendJson(res, 200, { ok: false, error: 'invalid_arguments' });
    }
    sendJson(res, 200, handle(a));
  });

  return {
    ...controls,
    /** The Web API base URL, as notifications.channels[].apiUrl. */
    apiUrl: `${controls.url}/api/`,
    posts,
    ephemerals,
    updates,
    /** Answers the next `count` calls with 429 and Retry-After. */
    rateLimitNext(count: number, retryAfterSeconds = 1) {
      limited.count = count;
      limited.retryAfter = retryAfterSeconds;
    },
  };
}
export type SlackStandIn = Awaited<ReturnType<typeof startSlack>>;

/**
 * What Slack POSTs to an app's interactivity Request URL when someone clicks a button: a form with one
 * `payload` field, signed `v0=<HMAC-SHA256 of "v0:<ts>:<body>">` with the app's signing secret.
 */
export function slackInteraction(
  secret: string,
  click: { user: string; channel: string; ts: string; action: string; value: string; blocks?: unknown[] },
  timestamp = Math.floor(Date.now() / 1000),
): { body: string; headers: Record<string, string> } {
  const payload = {
    type: 'block_actions',
    user: { id: click.user, username: click.user },
    api_app_id: 'A0ELEVATE',
    container: { type: 'message', message_ts: click.ts, channel_id: click.channel },
    channel: { id: click.channel },
    message: { ts: click.ts, blocks: click.blocks ?? [] },
    response_url: 'https://hooks.slack.com/actions/T0/1/x',
    actions: [
      { action_id: click.action, block_id: `elevate:${click.value}`, value: click.value, type: 'button' },
    ],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return {
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signature,
    },
  };
}
