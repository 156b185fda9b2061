import type { SinkConfigOf } from '../../config/audit-sink-schema.js';
import { type AuditSink, SinkRejected } from '../../services/audit-sink.js';
import { jsonOf } from '../http/http-call.js';
import { authorizationOf, caOf, refusesContent, sendToSink } from './sink-http.js';

interface BulkItem {
  index?: { _id?: string; status?: number; error?: { type?: string; reason?: string } };
}

/**
 * Item errors that come as a 400 but are the cluster's setup, not the record: a closed index, an index
 * name the cluster refuses, an alias without a write index. Retried until fixed, never skipped as poison.
 */
const isSetupError = (error: { type?: string; reason?: string } | undefined) =>
  error?.type === 'index_closed_exception' ||
  error?.type === 'invalid_index_name_exception' ||
  /no write index/i.test(error?.reason ?? '');

/**
 * Elasticsearch (or OpenSearch) _bulk: one `index` action per record with `_id` = the record's id (its
 * hash), so a batch sent again overwrites what it already wrote instead of duplicating it. The answer is
 * judged item by item: all 2xx is delivered; an item throttled or failing (429, 5xx) has the batch sent
 * again; an item refused for its content (a mapping error) is SinkRejected naming that record's seq, when
 * every item before it was indexed.
 */
export async function createElasticsearchSink(config: SinkConfigOf<'elasticsearch'>): Promise<AuditSink> {
  const field = `audit.sinks.${config.name}`;
  const authorization = await authorizationOf(config.auth, `${field}.auth`);
  const ca = await caOf(config.caFile, field);
  const url = `${config.url.replace(/\/+$/, '')}/_bulk`;
  const origin = new URL(url).origin;
  return {
    name: config.name,
    type: 'elasticsearch',
    async send(records) {
      const body = records
        .map(
          (r) => `${JSON.stringify({ index: { _index: config.index, _id: r.id } })}\n${JSON.stringify(r)}\n`,
        )
        .join('');
      const answer = await sendToSink({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-ndjson', ...(authorization ? { authorization } : {}) },
        body,
        timeoutMs: config.timeout,
        ca,
      });
      const parsed = jsonOf(answer) as { errors?: boolean; items?: BulkItem[] } | undefined;
      // Items answer actions by position: any other count could pin a refusal on the wrong record.
      if (!parsed || !Array.isArray(parsed.items) || parsed.items.length !== records.length)
        throw new Error(`${origin}: the _bulk answer is not JSON with one item per record`);
      if (!parsed.errors) return;
      const failed = parsed.items.findIndex((item) => (item.index?.status ?? 500) >= 300);
      const item = parsed.items[failed]?.index;
      const status = item?.status ?? 500;
      const message =
        `${origin}: _bulk item ${failed} answered ${status}: ${item?.error?.type ?? 'error'}: ${item?.error?.reason ?? ''}`.slice(
          0,
          300,
        );
      // The items before the first failure were indexed; a content refusal is that record's alone.
      if (refusesContent(status) && !isSetupError(item?.error)) {
        throw new SinkRejected(message, records[failed]?.seq);
      }
      throw new Error(message);
    },
  };
}
