import { type SaasControls, startSaasServer } from './saas-server.js';

/**
 * Stand-ins for the SIEMs Elevate streams its audit trail to, each speaking its documented wire format
 * with its errors, on 127.0.0.1: Splunk's HTTP Event Collector, Elasticsearch's _bulk API, Loki's push API.
 */

type Json = Record<string, unknown>;

/** Splunk HEC: /services/collector/event, `Authorization: Splunk <token>`, concatenated JSON events. */
export async function startSplunkHec(token: string) {
  const events: Json[] = [];
  const controls = await startSaasServer((req, res, body) => {
    const answer = (status: number, text: string, code: number) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ text, code }));
    if (req.url?.split('?')[0] !== '/services/collector/event') return answer(404, 'Not found', 404);
    const auth = req.headers.authorization;
    if (!auth) return answer(401, 'Token is required', 2);
    if (auth !== `Splunk ${token}`) return answer(403, 'Invalid token', 4);
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
      if (parsed.event === undefined) return answer(400, 'Event field is required', 12);
      batch.push(parsed);
    }
    events.push(...batch);
    answer(200, 'Success', 0);
  });
  return { ...controls, events };
}

/** Elasticsearch / OpenSearch _bulk: ndjson `index` actions, per-item results, documents by _id. */
export async function startElasticsearch(apiKey: string) {
  const documents = new Map<string, Json>();
  /** _ids whose document the "mapping" refuses (a mapper_parsing_exception, 400). */
  const unmappable = new Set<string>();
  const controls = await startSaasServer((req, res, body) => {
    const reply = (status: number, json: Json) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
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
      if (unmappable.has(id)) {
        items.push({
          index: {
            _index: action._index,
            _id: id,
            status: 400,
            error: { type: 'mapper_parsing_exception', reason: 'failed to parse field [details]' },
          },
        });
        continue;
      }
      const existed = documents.has(id);
      documents.set(id, JSON.parse(lines[i + 1] as string));
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
  return { ...controls, documents, unmappable };
}

/** Loki push: /loki/api/v1/push, JSON streams of [ns, line] values, 204; 400 text errors; tenants. */
export async function startLoki() {
  const entries: { tenant: string | undefined; labels: Record<string, string>; ns: string; line: string }[] =
    [];
  /** Lines containing this text are refused with 400, as an entry too far behind would be. */
  const refuse = { containing: null as string | null };
  const controls: SaasControls = await startSaasServer((req, res, body) => {
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
  return { ...controls, entries, refuse };
}
