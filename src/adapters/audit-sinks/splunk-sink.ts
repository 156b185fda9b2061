import type { SinkConfigOf } from '../../config/audit-sink-schema.js';
import type { AuditSink } from '../../services/audit-sink.js';
import { readSecretFile } from '../secret-file.js';
import { caOf, sendToSink } from './sink-http.js';

/**
 * Splunk's HTTP Event Collector: POST /services/collector/event with `Authorization: Splunk <token>`, the
 * batch as concatenated event objects (`{"time", "host"?, "source", "sourcetype", "index"?, "event"}`),
 * answered `{"text":"Success","code":0}`. A 400 (invalid data format, event field required…) refuses the
 * content; a refused token (401/403) or a busy server (503) is retried (sendToSink).
 */
export async function createSplunkSink(config: SinkConfigOf<'splunk'>): Promise<AuditSink> {
  const field = `audit.sinks.${config.name}`;
  const token = await readSecretFile(config.tokenFile, `${field}.tokenFile`);
  const ca = await caOf(config.caFile, field);
  const url = `${config.url.replace(/\/+$/, '')}/services/collector/event`;
  return {
    name: config.name,
    type: 'splunk',
    async send(records) {
      const body = records
        .map((r) =>
          JSON.stringify({
            // Epoch seconds with the milliseconds as a fraction, as HEC takes them.
            time: Date.parse(r.time) / 1000,
            source: config.source,
            sourcetype: config.sourcetype,
            ...(config.index ? { index: config.index } : {}),
            event: r,
          }),
        )
        .join('\n');
      await sendToSink({
        method: 'POST',
        url,
        headers: { authorization: `Splunk ${token}`, 'content-type': 'application/json' },
        body,
        timeoutMs: config.timeout,
        ca,
      });
    },
  };
}
