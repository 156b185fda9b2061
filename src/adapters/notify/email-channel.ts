import nodemailer from 'nodemailer';
import type { ChannelConfigOf } from '../../config/notification-schema.js';
import type { Notice } from '../../domain/notification.js';
import type { NotificationChannel, Undeliverable } from '../../services/notification-channel.js';
import { version } from '../../version.js';
import { caOf } from '../audit-sinks/sink-http.js';
import { readSecretFile } from '../secret-file.js';

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/** The mail of a notice: a subject, a plain-text body and the same in HTML (every value escaped). */
export function emailOf(notice: Notice): { subject: string; text: string; html: string } {
  const trail = `Audit event ${notice.event.seq} (${notice.event.action}, ${notice.event.hash.slice(0, 16)}…)`;
  const text = [
    notice.summary,
    '',
    ...notice.fields.map(([label, value]) => `${label}: ${value}`),
    '',
    `Severity: ${notice.severity}`,
    trail,
  ].join('\n');
  const rows = notice.fields
    .map(([l, v]) => `<tr><th align="left">${escapeHtml(l)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('');
  const html =
    `<!doctype html><html><body><h2>${escapeHtml(notice.title)}</h2><p>${escapeHtml(notice.summary)}</p>` +
    `<table>${rows}</table><p><small>Severity: ${escapeHtml(notice.severity)}. ${escapeHtml(trail)}</small></p>` +
    '</body></html>';
  return { subject: `[elevate] ${notice.title}`, text, html };
}

/** An SMTP answer that refuses the recipient for good (550 no such mailbox, 553 bad address…). */
const refusesRecipient = (err: { responseCode?: number; code?: string }) =>
  err.code === 'EENVELOPE' && typeof err.responseCode === 'number' && err.responseCode >= 500;

/**
 * E-mail over SMTP (nodemailer): one message per person, so approvers do not see each other's addresses.
 * STARTTLS is required unless the config says `none`; the password comes from a file. A mailbox the server
 * refuses for good (5xx at RCPT) is reported and not retried; any other failure throws for the outbox.
 */
export async function createEmailChannel(
  config: ChannelConfigOf<'email'>,
  undeliverable: Undeliverable,
): Promise<NotificationChannel> {
  const field = `notifications.channels.${config.name}`;
  const pass = config.passwordFile
    ? await readSecretFile(config.passwordFile, `${field}.passwordFile`)
    : null;
  const ca = await caOf(config.caFile, field);
  const transport = nodemailer.createTransport({
    host: config.host,
    port: config.port,
    secure: config.tls === 'implicit',
    requireTLS: config.tls === 'starttls',
    ignoreTLS: config.tls === 'none',
    ...(config.username && pass ? { auth: { user: config.username, pass } } : {}),
    ...(ca ? { tls: { ca } } : {}),
    connectionTimeout: config.timeout,
    greetingTimeout: config.timeout,
    socketTimeout: config.timeout,
    pool: true,
    maxConnections: 2,
  });
  return {
    name: config.name,
    type: 'email',
    async send(notice, to) {
      const addresses = new Set([
        ...to.people.flatMap((p) => (p.address ? [p.address] : [])),
        ...to.destinations,
      ]);
      const mail = emailOf(notice);
      for (const address of addresses) {
        try {
          await transport.sendMail({
            from: config.from,
            to: address,
            ...mail,
            headers: {
              'X-Elevate-Event': `${notice.event.seq}`,
              'X-Elevate-Kind': notice.kind,
              'X-Mailer': `elevate/${version}`,
            },
          });
        } catch (e) {
          const err = e as Error & { responseCode?: number; code?: string };
          if (refusesRecipient(err)) {
            undeliverable(config.name, address, err.message);
            continue;
          }
          // No credentials or addresses in the message: nodemailer's names the SMTP reply and command.
          throw new Error(`${config.host}:${config.port}: ${err.message}`);
        }
      }
    },
    async close() {
      transport.close();
    },
  };
}
