import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createElasticsearchSink } from '../../src/adapters/audit-sinks/elasticsearch-sink.js';
import { createLokiSink } from '../../src/adapters/audit-sinks/loki-sink.js';
import { createSplunkSink } from '../../src/adapters/audit-sinks/splunk-sink.js';
import {
  type AuditSinkConfig,
  auditSinkSchema,
  type SinkConfigOf,
} from '../../src/config/audit-sink-schema.js';
import type { AuditEvent } from '../../src/domain/audit-event.js';
import { type AuditRecord, auditRecord } from '../../src/domain/audit-record.js';
import { SinkRejected } from '../../src/services/audit-sink.js';
import { startElasticsearch, startLoki, startSplunkHec } from '../support/siem-servers.js';

const dir = mkdtempSync(join(tmpdir(), 'elevate-siem-'));
const hecToken = 'hec-0f3c9a7e-secret';
const esKey = 'es-api-key-secret';
writeFileSync(join(dir, 'hec'), `${hecToken}\n`);
writeFileSync(join(dir, 'hec-wrong'), 'not-the-token');
writeFileSync(join(dir, 'es'), esKey);

/** `n` audit records from `from` on, chained by hash as the store chains them. */
function records(from: number, n: number): AuditRecord[] {
  let prev = '0'.repeat(64);
  const out: AuditRecord[] = [];
  for (let seq = from; seq < from + n; seq++) {
    const event: Omit<AuditEvent, 'hash'> = {
      seq,
      prevHash: prev,
      time: new Date(Date.UTC(2026, 10, 22, 10, 0, seq)),
      actor: 'alice',
      action: seq % 2 ? 'RequestCreated' : 'GrantActivated',
      requestId: `ar-${seq}`,
      cluster: seq % 3 ? 'dev' : null,
      details: { n: seq },
    };
    const hash = createHash('sha256').update(prev).update(JSON.stringify(event)).digest('hex');
    out.push(auditRecord({ ...event, hash }));
    prev = hash;
  }
  return out;
}

function config<T extends AuditSinkConfig['type']>(type: T, raw: Record<string, unknown>): SinkConfigOf<T> {
  return auditSinkSchema.parse({ name: 'siem', timeout: '2s', type, ...raw }) as SinkConfigOf<T>;
}
/** What a refusal threw: its class, its message, and the seq it named. */
async function thrown(p: Promise<unknown>): Promise<{ rejected: boolean; message: string; seq?: number }> {
  try {
    await p;
  } catch (e) {
    return {
      rejected: e instanceof SinkRejected,
      message: (e as Error).message,
      seq: (e as SinkRejected).seq,
    };
  }
  throw new Error('expected a failure');
}

describe('Splunk HTTP Event Collector', () => {
  let hec: Awaited<ReturnType<typeof startSplunkHec>>;
  beforeAll(async () => {
    hec = await startSplunkHec(hecToken);
  });
  afterAll(() => hec.close());

  it('takes every record, in order, as HEC events with index, sourcetype and the chain', async () => {
    const sink = await createSplunkSink(
      config('splunk', { url: hec.url, tokenFile: join(dir, 'hec'), index: 'security' }),
    );
    const batch = records(1, 5);
    await sink.send(batch);
    expect(hec.events.map((e) => (e.event as AuditRecord).seq)).toEqual([1, 2, 3, 4, 5]);
    expect(hec.events[0]).toMatchObject({
      index: 'security',
      sourcetype: 'elevate:audit',
      source: 'elevate',
    });
    expect(hec.events[0]?.time).toBe(Date.parse(batch[0]?.time as string) / 1000);
    expect(hec.events.map((e) => (e.event as AuditRecord).hash)).toEqual(batch.map((r) => r.hash));
    expect(hec.calls.at(-1)?.authorization).toBe(`Splunk ${hecToken}`);
  });

  it('retries a refused token and a busy or absent collector; the token is in no message', async () => {
    const wrong = await createSplunkSink(
      config('splunk', { url: hec.url, tokenFile: join(dir, 'hec-wrong') }),
    );
    const refused = await thrown(wrong.send(records(1, 1)));
    expect(refused).toMatchObject({
      rejected: false,
      message: expect.stringMatching(/answered 403.*Invalid token/),
    });
    const sink = await createSplunkSink(config('splunk', { url: hec.url, tokenFile: join(dir, 'hec') }));
    await hec.down();
    const down = await thrown(sink.send(records(1, 1)));
    expect(down.rejected).toBe(false);
    expect(down.message).toMatch(/ECONNREFUSED/);
    await hec.up();
    for (const m of [refused.message, down.message]) expect(m).not.toContain(hecToken);
  });
});

describe('Elasticsearch _bulk', () => {
  let es: Awaited<ReturnType<typeof startElasticsearch>>;
  beforeAll(async () => {
    es = await startElasticsearch(esKey);
  });
  afterAll(() => es.close());
  const sink = () =>
    createElasticsearchSink(
      config('elasticsearch', {
        url: es.url,
        index: 'elevate-audit',
        auth: { type: 'apiKey', keyFile: join(dir, 'es') },
      }),
    );

  it('indexes each record under its hash, so a batch sent again duplicates nothing', async () => {
    const s = await sink();
    const batch = records(1, 10);
    await s.send(batch);
    expect(es.documents.size).toBe(10);
    await s.send(batch);
    expect(es.documents.size).toBe(10);
    expect([...es.documents.keys()]).toEqual(batch.map((r) => r.hash));
    expect(es.documents.get(batch[3]?.hash as string)).toMatchObject({ seq: 4, prevHash: batch[2]?.hash });
  });

  it('names the record the mapping refuses (its seq), after those before it were indexed', async () => {
    const s = await sink();
    const batch = records(100, 5);
    es.unmappable.add(batch[2]?.id as string);
    const refusal = await thrown(s.send(batch));
    expect(refusal).toMatchObject({ rejected: true, seq: 102 });
    expect(refusal.message).toMatch(/_bulk item 2 answered 400: mapper_parsing_exception/);
    expect(es.documents.has(batch[1]?.id as string)).toBe(true);
  });

  it('retries refused credentials and a server that is down', async () => {
    writeFileSync(join(dir, 'es-wrong'), 'nope');
    const wrong = await createElasticsearchSink(
      config('elasticsearch', {
        url: es.url,
        index: 'x',
        auth: { type: 'apiKey', keyFile: join(dir, 'es-wrong') },
      }),
    );
    const refused = await thrown(wrong.send(records(1, 1)));
    expect(refused.rejected).toBe(false);
    expect(refused.message).toMatch(/answered 401/);
    expect(refused.message).not.toContain('nope');
    await es.down();
    expect((await thrown((await sink()).send(records(1, 1)))).rejected).toBe(false);
    await es.up();
  });
});

describe('Loki push', () => {
  let loki: Awaited<ReturnType<typeof startLoki>>;
  beforeAll(async () => {
    loki = await startLoki();
  });
  afterAll(() => loki.close());

  it('pushes streams labelled by action and cluster plus the configured labels, to the tenant, in order', async () => {
    const sink = await createLokiSink(
      config('loki', { url: loki.url, labels: { job: 'elevate', env: 'prod' }, tenant: 'security' }),
    );
    const batch = records(1, 6);
    await sink.send(batch);
    expect(loki.entries).toHaveLength(6);
    expect(new Set(loki.entries.map((e) => e.tenant))).toEqual(new Set(['security']));
    const first = loki.entries.find((e) => JSON.parse(e.line).seq === 1);
    expect(first?.labels).toEqual({ job: 'elevate', env: 'prod', action: 'RequestCreated', cluster: 'dev' });
    expect(first?.ns).toBe(`${Date.parse(batch[0]?.time as string)}000000`);
    // seq 3 has no cluster: no cluster label rather than an empty one.
    expect(loki.entries.find((e) => JSON.parse(e.line).seq === 3)?.labels).not.toHaveProperty('cluster');
    // Within each stream the entries keep audit order.
    const created = loki.entries.filter(
      (e) => e.labels.action === 'RequestCreated' && e.labels.cluster === 'dev',
    );
    const seqs = created.map((e) => JSON.parse(e.line).seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it('takes a 400 as a refusal of the content, and a closed port as a retry', async () => {
    const sink = await createLokiSink(config('loki', { url: loki.url }));
    loki.refuse.containing = '"seq":7,';
    expect(await thrown(sink.send(records(7, 1)))).toMatchObject({
      rejected: true,
      message: expect.stringMatching(/answered 400: entry for stream/),
    });
    loki.refuse.containing = null;
    await loki.down();
    expect((await thrown(sink.send(records(7, 1)))).rejected).toBe(false);
    await loki.up();
    await sink.send(records(7, 1));
  });
});
