import type { SinkConfigOf } from '../../config/audit-sink-schema.js';
import type { AuditSink } from '../../services/audit-sink.js';
import { jsonOf } from '../http/http-call.js';
import { readSecretFile } from '../secret-file.js';
import { caOf, refusesContent, sendToSink } from './sink-http.js';

/**
 * HEC codes that come with a 400 but are the token's or the config's fault, not the events': 7 Incorrect
 * index (the index is not among the token's allowed ones), 10/11 a data channel missing or invalid (the
 * token wants indexer acknowledgment), 14 ACK is disabled, 16 query-string auth not enabled. Retried
 * until an operator fixes them: no event is skipped as poison for a setup mistake.
 */
const setupCodes = new Set([7, 10, 11, 14, 16]);

/**
 * Splunk's HTTP Event Collector: POST /services/collector/event with `Authorization: Splunk <token>`, the
 * batch as concatenated event objects (`{"time", "host"?, "source", "sourcetype", "index"?, "event"}`),
 * answered `{"text":"Success","code":0}`. A 400 (invalid data format, event field required…) refuses the
 * content (5 no data, 6 invalid data format, 12/13 event field missing or blank) unless its code says the
 * setup is wrong (setupCodes); a refused token (401/403: codes 1-4) or a busy server (503, code 9) is retried.
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
        refuses: (answer) => {
          const code = (jsonOf(answer) as { code?: unknown } | undefined)?.code;
          return refusesContent(answer.status) && !(typeof code === 'number' && setupCodes.has(code));
        },
      });
    },
  };
}
