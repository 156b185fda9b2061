import { createHash } from 'node:crypto';
import type { AuditEvent } from '../../domain/audit-event.js';
import type { OutboxConsumer } from '../../services/outbox.js';
import { version } from '../../version.js';

/** What break-glass webhooks are told about. */
export const webhookActions = new Set([
  'BreakGlassActivated',
  'BreakGlassModeOn',
  'BreakGlassModeOff',
  'ReviewOverdue',
  'TicketInvalidated',
]);

const severities: Record<string, string> = {
  BreakGlassActivated: 'high',
  BreakGlassModeOn: 'high',
  BreakGlassModeOff: 'info',
  ReviewOverdue: 'warning',
  TicketInvalidated: 'warning',
};

export interface WebhookPayload {
  type: string;
  severity: string;
  time: string;
  actor: string;
  requestId: string | null;
  cluster: string | null;
  details: Record<string, unknown>;
  seq: number;
  hash: string;
  /** One human line; the field Slack-compatible incoming webhooks show. */
  text: string;
}

/**
 * The cursor's name: a hash of the URL, since webhook URLs often carry their secret in the path (Slack's
 * do) and cursor names show in metrics and logs.
 */
export function webhookConsumerName(url: string): string {
  return `webhook:${createHash('sha256').update(url).digest('hex').slice(0, 16)}`;
}

/** Where a webhook points, for logs: scheme, host and port only (the path may be the secret). */
export function webhookOrigin(url: string): string {
  return new URL(url).origin;
}

const str = (v: unknown): string | undefined =>
  typeof v === 'string' || typeof v === 'number' ? `${v}` : undefined;

function targetsText(targets: unknown): string {
  if (!Array.isArray(targets)) return '';
  return targets
    .map((t: Record<string, unknown>) =>
      [t.cluster, t.role ?? t.profile, t.namespace].filter((x) => typeof x === 'string').join('/'),
    )
    .join(', ');
}

/** The short human line of each event. */
export function webhookText(e: AuditEvent): string {
  const d = e.details;
  const on = e.cluster ? ` on ${e.cluster}` : '';
  const request = e.requestId ? ` (request ${e.requestId})` : '';
  const reason = str(d.reason) ? `: ${str(d.reason)}` : '';
  switch (e.action) {
    case 'BreakGlassActivated': {
      const targets = targetsText(d.targets);
      const duration = str(d.duration) ? ` for ${str(d.duration)}` : '';
      return `BREAK-GLASS: ${e.actor} took emergency access${targets ? ` to ${targets}` : on}${duration}${request}${reason}`;
    }
    case 'BreakGlassModeOn':
      return `BREAK-GLASS MODE ON by ${e.actor}${str(d.until) ? ` until ${str(d.until)}` : ''}${reason}`;
    case 'BreakGlassModeOff':
      return `Break-glass mode off (${str(d.reason) ?? 'turned off'}${str(d.by) ? ` by ${str(d.by)}` : ''})`;
    case 'ReviewOverdue':
      return `Post-incident review ${str(d.review) ?? ''}${str(d.user) ? ` of ${str(d.user)}` : ''} is overdue${str(d.dueAt) ? ` (due ${str(d.dueAt)})` : ''}${request}`;
    case 'TicketInvalidated':
      return `Ticket ${str(d.ticket) ?? ''} no longer valid${str(d.provider) ? ` in ${str(d.provider)}` : ''}${on}${request}${reason}`;
    default:
      return `${e.action} by ${e.actor}${on}${request}`;
  }
}

export function webhookPayload(e: AuditEvent): WebhookPayload {
  return {
    type: e.action,
    severity: str(e.details.severity) ?? severities[e.action] ?? 'info',
    time: e.time.toISOString(),
    actor: e.actor,
    requestId: e.requestId,
    cluster: e.cluster,
    details: e.details,
    seq: e.seq,
    hash: e.hash,
    text: `[elevate] ${webhookText(e)}`,
  };
}

/** Thrown for an answer other than 2xx: the relay retries it, whatever the status. */
export class WebhookRefused extends Error {}

/**
 * One webhook URL as an outbox consumer: each event POSTed as JSON on its own, in order. 2xx is delivered;
 * anything else (4xx included: a misconfigured URL must not silently drop an emergency notice), a
 * timeout or a refused connection is retried by the relay with capped backoff.
 */
export function createWebhookNotifier(
  url: string,
  { timeoutMs = 5_000, wants = (e: AuditEvent) => webhookActions.has(e.action) } = {},
): OutboxConsumer & { origin: string } {
  const origin = webhookOrigin(url);
  return {
    name: webhookConsumerName(url),
    origin,
    startAt: 'head',
    maxEventsPerDelivery: 1,
    wants,
    async deliver(events) {
      for (const e of events) {
        let status: number;
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'user-agent': `elevate/${version}` },
            body: JSON.stringify(webhookPayload(e)),
            signal: AbortSignal.timeout(timeoutMs),
            redirect: 'error',
          });
          status = res.status;
          await res.body?.cancel();
        } catch (err) {
          // Node's fetch names the cause (ECONNREFUSED, the timeout) there; the URL is never in the message.
          const cause = (err as Error & { cause?: Error }).cause;
          throw new WebhookRefused(`${origin}: ${cause?.message ?? (err as Error).message}`);
        }
        if (status < 200 || status > 299) {
          const hint =
            status >= 400 && status < 500 && status !== 408 && status !== 429 ? ' (check the URL)' : '';
          throw new WebhookRefused(`${origin} answered ${status}${hint}`);
        }
      }
    },
  };
}
