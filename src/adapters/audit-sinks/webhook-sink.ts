import { createHmac } from 'node:crypto';
import type { SinkConfigOf } from '../../config/audit-sink-schema.js';
import type { AuditSink } from '../../services/audit-sink.js';
import { version } from '../../version.js';
import { readSecretFile } from '../secret-file.js';
import { caOf, sendToSink } from './sink-http.js';

/** The header carrying the body's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`. */
export const signatureHeader = 'x-elevate-signature';

/** The signature of a body sent at `unixSeconds`, as a receiver recomputes it with the shared secret. */
export function signBody(secret: string, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * The audit trail POSTed to a URL as JSON batches, `{"source":"elevate","events":[AuditRecord…]}`. With
 * a secret, each body is signed (timestamp included, so a receiver can refuse replays) the way Elevate
 * checks ticket callbacks; extra headers, and secret ones read from files once at start.
 */
export async function createWebhookSink(
  config: SinkConfigOf<'webhook'>,
  now: () => Date = () => new Date(),
): Promise<AuditSink> {
  const field = `audit.sinks.${config.name}`;
  const secret = config.secretFile ? await readSecretFile(config.secretFile, `${field}.secretFile`) : null;
  const headers: Record<string, string> = { ...config.headers };
  for (const [name, file] of Object.entries(config.headerFiles)) {
    headers[name] = await readSecretFile(file, `${field}.headerFiles.${name}`);
  }
  const ca = await caOf(config.caFile, field);
  return {
    name: config.name,
    type: 'webhook',
    async send(records) {
      const body = JSON.stringify({ source: 'elevate', events: records });
      const signature: Record<string, string> = secret
        ? { [signatureHeader]: signBody(secret, Math.floor(now().getTime() / 1000), body) }
        : {};
      await sendToSink({
        method: 'POST',
        url: config.url,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'user-agent': `elevate/${version}`,
          ...signature,
        },
        body,
        timeoutMs: config.timeout,
        ca,
      });
    },
  };
}
