import { basicCredentials, type SaasControls, startSaasServer } from './saas-server.js';

/**
 * Stand-ins for the SIEMs Elevate streams its audit trail to, each speaking its documented wire format
 * with its errors, on 127.0.0.1: Splunk's HTTP Event Collector, Elasticsearch's _bulk API, Loki's push API.
 */

type Json = Record<string, unknown>;

/**
 * Splunk HEC: /services/collector/event, `Authorization: Splunk <token>`, concatenated JSON events, each
 * batch taken whole or not at all. Knobs: `busy` answers the next n requests 503 (code 9); `indexes` are
 * the token's allowed indexes (another is 400 code 7); an event containing `refuse.containing` is invalid
 * data (400 code 6, with its invalid-event-number).
 */
export async function startSplunkHec(token: string) {
  const events: Json[] = [];
  const knobs = { busy: 0, indexes: null as string[] | null, refuse: { containing: null as string | null } };
  const controls = await startSaasServer((req, res, body) => {
    const answer = (status: number, text: string, code: number) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ text, code }));
    if (req.url?.split('?')[0] !== '/services/collector/event') return answer(404, 'Not found', 404);
    const auth = req.headers.authorization;
    if (!auth) return answer(401, 'Token is required', 2);
    if (auth !== `Splunk ${token}`) return answer(403, 'Invalid token', 4);
    if (knobs.busy > 0) {
      knobs.busy--;
      return answer(503, 'Server is busy', 9);
    }
    if (body.trim() === '') return answer(400, 'No data', 5);
    const batch: Json[] = [];
    // HEC takes JSON objects one after another, with or without whitespace between them.
    for (const text of body.split(/\n(?=\{)/)) {
      let parsed: Json;
      try {
        parsed = JSON.parse(text);
      } catch {
        return answer(400, 'Invalid data format', 6);
      }
      const invalid = (text: string, code: number) =>
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ text, code, 'invalid-event-number': batch.length }));
      if (parsed.event === undefined) return invalid('Event field is required', 12);
      if (knobs.indexes && typeof parsed.index === 'string' && !knobs.indexes.includes(parsed.index))
        return invalid('Incorrect index', 7);
      if (knobs.refuse.containing && text.includes(knobs.refuse.containing))
        return invalid('Invalid data format', 6);
      batch.push(parsed);
    }
    events.push(...batch);
    answer(200, 'Success', 0);
  });
  return Object.assign(knobs, controls, { events });
}

/**
 * Elasticsearch / OpenSearch _bulk: ndjson `index` actions, per-item results, documents by _id. Knobs:
 * `busy` answers the next n requests 503; items whose _id is `unmappable` fail 400 mapper_parsing_exception,
 * `throttled` 429 es_rejected_execution_exception; `closed` fails every item 400 index_closed_exception.
 * `outcomes` lists each item's result (created, updated, or its error type) in the order answered.
 */
export async function startElasticsearch(apiKey: string) {
  const documents = new Map<string, Json>();
  const outcomes: string[] = [];
  const knobs = { busy: 0, closed: false, unmappable: new Set<string>(), throttled: new Set<string>() };
  const failure = (id: string): [number, string, string] | null => {
    if (knobs.closed) return [400, 'index_closed_exception', 'closed'];
    if (knobs.throttled.has(id))
      return [429, 'es_rejected_execution_exception', 'rejected execution of coordinating operation'];
    if (knobs.unmappable.has(id)) return [400, 'mapper_parsing_exception', 'failed to parse field [details]'];
    return null;
  };
  const controls = await startSaasServer((req, res, body) => {
    const reply = (status: number, json: Json) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    if (knobs.busy > 0) {
      knobs.busy--;
      return reply(503, {
        error: { type: 'cluster_block_exception', reason: 'blocked by: [SERVICE_UNAVAILABLE/2/no master];' },
        status: 503,
      });
    }
    if (req.headers.authorization !== `ApiKey ${apiKey}`) {
      return reply(401, {
        error: { type: 'security_exception', reason: 'missing authentication credentials' },
        status: 401,
      });
    }
    if (
      req.url?.split('?')[0] !== '/_bulk' ||
      !req.headers['content-type']?.startsWith('application/x-ndjson')
    ) {
      return reply(400, {
        error: { type: 'illegal_argument_exception', reason: 'expected _bulk with ndjson' },
        status: 400,
      });
    }
    const lines = body.split('\n').filter((l) => l !== '');
    if (body !== '' && !body.endsWith('\n')) {
      return reply(400, {
        error: {
          type: 'illegal_argument_exception',
          reason: 'The bulk request must be terminated by a newline [\\n]',
        },
        status: 400,
      });
    }
    const items: Json[] = [];
    for (let i = 0; i < lines.length; i += 2) {
      const action = JSON.parse(lines[i] as string).index as { _index: string; _id: string };
      const id = action._id;
      const failed = failure(id);
      if (failed) {
        const [status, type, reason] = failed;
        outcomes.push(type);
        items.push({ index: { _index: action._index, _id: id, status, error: { type, reason } } });
        continue;
      }
      const existed = documents.has(id);
      documents.set(id, JSON.parse(lines[i + 1] as string));
      outcomes.push(existed ? 'updated' : 'created');
      items.push({
        index: {
          _index: action._index,
          _id: id,
          status: existed ? 200 : 201,
          result: existed ? 'updated' : 'created',
        },
      });
    }
    reply(200, { took: 3, errors: items.some((it) => ((it.index as Json).status as number) >= 300), items });
  });
  return Object.assign(knobs, controls, { documents, outcomes });
}

/**
 * Loki push: /loki/api/v1/push, JSON streams of [ns, line] values, 204; 400 text errors; tenants. With
 * `requireTenant` (auth_enabled) a push without X-Scope-OrgID is 401 "no org id"; with `basic` the gateway
 * in front wants those credentials. `busy` answers the next n pushes 429 (the ingestion rate limit).
 */
export async function startLoki(options: { requireTenant?: boolean; basic?: [string, string] } = {}) {
  const entries: { tenant: string | undefined; labels: Record<string, string>; ns: string; line: string }[] =
    [];
  /** Lines containing this text are refused with 400, as an entry too far behind would be. */
  const refuse = { containing: null as string | null };
  const knobs = { busy: 0 };
  const controls: SaasControls = await startSaasServer((req, res, body) => {
    const text = (status: number, message: string) =>
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
    if (options.basic) {
      const given = basicCredentials(req.headers.authorization);
      if (given?.[0] !== options.basic[0] || given[1] !== options.basic[1]) return text(401, 'Unauthorized');
    }
    if (options.requireTenant && !req.headers['x-scope-orgid']) return text(401, 'no org id');
    if (knobs.busy > 0) {
      knobs.busy--;
      return text(429, 'Ingestion rate limit exceeded for user fake, reduce log volume');
    }
    if (req.url?.split('?')[0] !== '/loki/api/v1/push') return res.writeHead(404).end('404 page not found\n');
    let push: { streams: { stream: Record<string, string>; values: [string, string][] }[] };
    try {
      push = JSON.parse(body);
    } catch {
      return res.writeHead(400, { 'content-type': 'text/plain' }).end('loghttp.PushRequest: invalid JSON\n');
    }
    for (const s of push.streams) {
      for (const [ns, line] of s.values) {
        if (refuse.containing && line.includes(refuse.containing)) {
          return res
            .writeHead(400, { 'content-type': 'text/plain' })
            .end(`entry for stream '${JSON.stringify(s.stream)}' has timestamp too old: ${ns}\n`);
        }
      }
    }
    const tenant = req.headers['x-scope-orgid'] as string | undefined;
    for (const s of push.streams)
      for (const [ns, line] of s.values) entries.push({ tenant, labels: s.stream, ns, line });
    res.writeHead(204).end();
  });
  return Object.assign(knobs, controls, { entries, refuse });
}
