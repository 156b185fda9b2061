import type { ChannelConfigOf } from '../../config/notification-schema.js';
import type { Notice } from '../../domain/notification.js';
import type { NotificationChannel, Recipients } from '../../services/notification-channel.js';
import { version } from '../../version.js';
import { caOf, sendToSink } from '../audit-sinks/sink-http.js';
import { signatureHeader, signBody } from '../audit-sinks/webhook-sink.js';
import { readSecretFile } from '../secret-file.js';

/** The JSON a notification webhook receives: the notice, who it is for, and the audit event it tells of. */
export function webhookNotice(notice: Notice, to: Recipients) {
  return {
    source: 'elevate',
    kind: notice.kind,
    severity: notice.severity,
    title: notice.title,
    summary: notice.summary,
    fields: Object.fromEntries(notice.fields),
    requestId: notice.requestId,
    cluster: notice.cluster,
    policy: notice.policy,
    requester: notice.requester,
    recipients: {
      people: to.people.map((p) => ({ user: p.user, email: p.address })),
      destinations: to.destinations,
    },
    event: { ...notice.event, time: notice.event.time.toISOString() },
  };
}

/**
 * Notices POSTed as JSON, one per request, signed like the audit webhook sink (`X-Elevate-Signature:
 * t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`, the timestamp inside so a receiver can refuse replays). Any
 * answer but 2xx is retried by the outbox: a notice is never dropped for a receiver's mistake.
 */
export async function createWebhookChannel(
  config: ChannelConfigOf<'webhook'>,
  now: () => Date = () => new Date(),
): Promise<NotificationChannel> {
  const field = `notifications.channels.${config.name}`;
  const secret = await readSecretFile(config.secretFile, `${field}.secretFile`);
  const ca = await caOf(config.caFile, field);
  return {
    name: config.name,
    type: 'webhook',
    async send(notice, to) {
      const body = JSON.stringify(webhookNotice(notice, to));
      await sendToSink({
        method: 'POST',
        url: config.url,
        headers: {
          'content-type': 'application/json',
          'user-agent': `elevate/${version}`,
          [signatureHeader]: signBody(secret, Math.floor(now().getTime() / 1000), body),
        },
        body,
        timeoutMs: config.timeout,
        ca,
      });
    },
  };
}
