import type { SinkConfigOf } from '../../config/audit-sink-schema.js';
import type { AuditRecord } from '../../domain/audit-record.js';
import type { AuditSink } from '../../services/audit-sink.js';
import { authorizationOf, caOf, sendToSink } from './sink-http.js';

/**
 * Loki's push API: POST /loki/api/v1/push with the records grouped into streams by their labels (the
 * configured ones, plus `action` and `cluster`), each value `[<unix ns>, <the record as JSON>]`, in audit
 * order within a stream. 204 is taken; a 400 (an entry too old, invalid labels) refuses the content.
 */
export async function createLokiSink(config: SinkConfigOf<'loki'>): Promise<AuditSink> {
  const field = `audit.sinks.${config.name}`;
  const authorization = await authorizationOf(config.auth, `${field}.auth`);
  const ca = await caOf(config.caFile, field);
  const url = `${config.url.replace(/\/+$/, '')}/loki/api/v1/push`;
  const labelsOf = (r: AuditRecord): Record<string, string> => ({
    action: r.action,
    ...(r.cluster ? { cluster: r.cluster } : {}),
    ...config.labels,
  });
  return {
    name: config.name,
    type: 'loki',
    async send(records) {
      const streams = new Map<string, { stream: Record<string, string>; values: [string, string][] }>();
      for (const r of records) {
        const stream = labelsOf(r);
        const key = JSON.stringify(Object.entries(stream).sort());
        const entry = streams.get(key) ?? { stream, values: [] };
        streams.set(key, entry);
        entry.values.push([`${BigInt(Date.parse(r.time)) * 1_000_000n}`, JSON.stringify(r)]);
      }
      await sendToSink({
        method: 'POST',
        url,
        headers: {
          'content-type': 'application/json',
          ...(authorization ? { authorization } : {}),
          ...(config.tenant ? { 'x-scope-orgid': config.tenant } : {}),
        },
        body: JSON.stringify({ streams: [...streams.values()] }),
        timeoutMs: config.timeout,
        ca,
      });
    },
  };
}
