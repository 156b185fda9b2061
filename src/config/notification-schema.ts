/**
 * The config of notifications: `notifications.channels[]` (Slack, e-mail, signed webhooks) and
 * `notifications.rules[]` saying which events go to which channel, for whom. Each channel is an outbox
 * consumer of its own (services/notifications.ts): retried, never lost, never in a request's way.
 */
import { z } from 'zod';
import { notificationKinds, severities } from '../domain/notification.js';
import { serviceUrl } from './integration-schema.js';
import { durationText } from './policy-schema.js';
import { checkBothOrNeither, checkUniqueNames } from './schema-checks.js';

const channelName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'channel names are DNS labels (lower case, digits, dashes)')
  .max(63);

const email = z.email();

const common = {
  name: channelName,
  /** How long one send may take before it counts as failed (and is retried). */
  timeout: durationText.prefault('10s'),
};

/** PEM bundle to trust for the service's TLS, when it is not a public CA (Slack's is: NODE_EXTRA_CA_CERTS). */
const caFile = z.string().min(1).optional();

export const slackChannelSchema = z.strictObject({
  ...common,
  type: z.literal('slack'),
  /** The bot token (xoxb-…): chat:write, users:read, users:read.email. */
  tokenFile: z.string().min(1),
  /**
   * The app's signing secret: with it, a pending request's message carries Approve/Deny buttons and Slack's
   * clicks (POST /api/v1/notifications/slack/interactions) are verified with it. Without it, no buttons.
   */
  signingSecretFile: z.string().min(1).optional(),
  /** Where notices that are for no one person go (break-glass, refused escalation): C…, G… or #name. */
  conversation: z.string().min(1).optional(),
  /** The Web API's base URL (GovSlack, or a test's stand-in). */
  apiUrl: serviceUrl.default('https://slack.com/api/'),
});

export const emailChannelSchema = z.strictObject({
  ...common,
  type: z.literal('email'),
  caFile,
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535).default(587),
  /**
   * `starttls` (required: a server that does not offer it is refused), `implicit` (TLS from the first byte,
   * port 465), or `none` (a relay on the same host only).
   */
  tls: z.enum(['starttls', 'implicit', 'none']).default('starttls'),
  username: z.string().min(1).optional(),
  passwordFile: z.string().min(1).optional(),
  from: email,
});

export const webhookChannelSchema = z.strictObject({
  ...common,
  type: z.literal('webhook'),
  caFile,
  url: serviceUrl,
  /** HMAC-SHA256 key; each body is signed in X-Elevate-Signature (`t=<unix>,v1=<hex of "t.body">`). */
  secretFile: z.string().min(1),
});

export const channelSchema = z.discriminatedUnion('type', [
  slackChannelSchema,
  emailChannelSchema,
  webhookChannelSchema,
]);

/**
 * Who gets a notice: `approvers` (of the request, never its requester), `requester`, an e-mail address, or
 * a Slack conversation (C…, G…, #name).
 */
const recipient = z.string().min(1);
const slackConversation = /^(#[a-z0-9][a-z0-9._-]*|[CG][A-Z0-9]{2,})$/;

export const ruleSchema = z.strictObject({
  events: z.array(z.enum(notificationKinds)).min(1),
  channel: channelName,
  /** Absent: the event's own people (approvers of a pending request, the requester of the rest). */
  to: z.array(recipient).min(1).optional(),
  /** Only events on these clusters (globs). */
  clusters: z.array(z.string().min(1)).min(1).optional(),
  /** Only requests decided by these policies (globs). */
  policies: z.array(z.string().min(1)).min(1).optional(),
  /** Only events at least this severe. */
  minSeverity: z.enum(severities).optional(),
});

/** Kinds whose notice is for no one person: a rule must say who gets them (or a Slack conversation). */
const withoutPeople = new Set(['breakglass', 'escalation.refused', 'ticket.invalidated', 'review.overdue']);

export const notificationsSchema = z
  .strictObject({
    channels: z.array(channelSchema).default([]),
    rules: z.array(ruleSchema).default([]),
    /** E-mail addresses of users whose Elevate name is not one (token-file users); OIDC e-mail names are. */
    addresses: z.record(z.string().min(1), email).default({}),
    /** How long before a grant ends its requester is told (grant.expiring). */
    expiryWarning: durationText.prefault('10m'),
  })
  .superRefine((n, ctx) => {
    checkUniqueNames(n.channels, 'channels', 'channel', ctx);
    const channels = new Map(n.channels.map((c) => [c.name, c]));
    n.channels.forEach((c, i) => {
      if (c.type === 'email')
        checkBothOrNeither([c.username, c.passwordFile], ['username', 'passwordFile'], ['channels', i], ctx);
    });
    n.rules.forEach((r, i) => {
      const channel = channels.get(r.channel);
      if (!channel) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'channel'],
          message: `unknown channel ${r.channel}; expected one of ${[...channels.keys()].join(', ') || '(none)'}`,
        });
        return;
      }
      (r.to ?? []).forEach((to, j) => {
        const problem = recipientProblem(channel.type, to);
        if (problem) ctx.addIssue({ code: 'custom', path: ['rules', i, 'to', j], message: problem });
      });
      const nobody = r.events.filter((e) => withoutPeople.has(e));
      const hasDefault = channel.type === 'webhook' || (channel.type === 'slack' && channel.conversation);
      if (nobody.length > 0 && !r.to && !hasDefault)
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'to'],
          message: `${nobody.join(', ')} are for no one person: say who gets them (to)`,
        });
    });
  })
  .prefault({});

function recipientProblem(type: z.infer<typeof channelSchema>['type'], to: string): string | null {
  if (to === 'approvers' || to === 'requester') return null;
  if (type === 'slack')
    return slackConversation.test(to)
      ? null
      : `expected approvers, requester or a Slack conversation (C…, G… or #name), not ${to}`;
  return email.safeParse(to).success ? null : `expected approvers, requester or an e-mail address, not ${to}`;
}

export type ChannelConfig = z.infer<typeof channelSchema>;
export type ChannelConfigOf<T extends ChannelConfig['type']> = Extract<ChannelConfig, { type: T }>;
export type NotificationRule = z.infer<typeof ruleSchema>;

export interface NotificationsConfig {
  channels: ChannelConfig[];
  rules: NotificationRule[];
  addresses: Record<string, string>;
  expiryWarningMs: number;
}

/** The channels with their file paths made absolute by `rel`. */
export function resolveNotifications(
  n: z.infer<typeof notificationsSchema>,
  rel: (p: string) => string,
): NotificationsConfig {
  const channels = n.channels.map(
    (c) =>
      Object.fromEntries(
        Object.entries(c).map(([k, v]) => [k, k.endsWith('File') && typeof v === 'string' ? rel(v) : v]),
      ) as ChannelConfig,
  );
  return { channels, rules: n.rules, addresses: n.addresses, expiryWarningMs: n.expiryWarning };
}
