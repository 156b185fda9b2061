import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createElasticsearchSink } from '../../src/adapters/audit-sinks/elasticsearch-sink.js';
import { createLokiSink } from '../../src/adapters/audit-sinks/loki-sink.js';
import { createSplunkSink } from '../../src/adapters/audit-sinks/splunk-sink.js';
import { createMetrics, observeAuditWrites } from '../../src/adapters/metrics/prometheus-metrics.js';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store.js';
import { buildOutbox } from '../../src/composition/build-outbox.js';
import {
  type AuditSinkConfig,
  auditSinkSchema,
  type SinkConfigOf,
} from '../../src/config/audit-sink-schema.js';
import type { Config } from '../../src/config/load-config.js';
import type { AuditEvent } from '../../src/domain/audit-event.js';
import { type AuditRecord, auditRecord } from '../../src/domain/audit-record.js';
import { systemClock } from '../../src/domain/clock.js';
import { SinkRejected } from '../../src/services/audit-sink.js';
import { waitFor } from '../support/kube.js';
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
  // A failed assertion leaves no knob set for the next test.
  afterEach(() => {
    Object.assign(hec, { busy: 0, indexes: null });
    hec.refuse.containing = null;
  });

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

  it('a busy collector (503, code 9) is retried, and the batch is taken whole once it answers', async () => {
    const sink = await createSplunkSink(config('splunk', { url: hec.url, tokenFile: join(dir, 'hec') }));
    const before = hec.events.length;
    hec.busy = 1;
    const busy = await thrown(sink.send(records(20, 3)));
    expect(busy).toMatchObject({
      rejected: false,
      message: expect.stringMatching(/answered 503.*Server is busy/),
    });
    expect(hec.events.length).toBe(before);
    await sink.send(records(20, 3));
    expect(hec.events.slice(before).map((e) => (e.event as AuditRecord).seq)).toEqual([20, 21, 22]);
  });

  it('an index the token may not write (400, code 7) is retried; invalid data (400, code 6) is refused', async () => {
    hec.indexes = ['security'];
    const wrongIndex = await createSplunkSink(
      config('splunk', { url: hec.url, tokenFile: join(dir, 'hec'), index: 'main' }),
    );
    expect(await thrown(wrongIndex.send(records(30, 2)))).toMatchObject({
      rejected: false,
      message: expect.stringMatching(/answered 400.*Incorrect index/),
    });
    hec.indexes = null;
    const sink = await createSplunkSink(config('splunk', { url: hec.url, tokenFile: join(dir, 'hec') }));
    hec.refuse.containing = '"seq":31,';
    // HEC names the batch position, not what it kept: the relay finds the event one by one (no seq).
    const refused = await thrown(sink.send(records(30, 2)));
    hec.refuse.containing = null;
    expect(refused).toMatchObject({ rejected: true, seq: undefined });
    expect(refused.message).toMatch(/Invalid data format.*"invalid-event-number":1/);
  });
});

describe('Elasticsearch _bulk', () => {
  let es: Awaited<ReturnType<typeof startElasticsearch>>;
  beforeAll(async () => {
    es = await startElasticsearch(esKey);
  });
  afterAll(() => es.close());
  afterEach(() => {
    Object.assign(es, { busy: 0, closed: false });
    es.throttled.clear();
  });
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
    expect(es.outcomes.slice(-10)).toEqual(Array(10).fill('updated'));
  });

  it('a throttled item (429) has the batch sent again; the retry overwrites what was taken', async () => {
    const s = await sink();
    const batch = records(200, 5);
    const count = es.documents.size;
    es.throttled.add(batch[2]?.id as string);
    const throttled = await thrown(s.send(batch));
    expect(throttled).toMatchObject({
      rejected: false,
      message: expect.stringMatching(/item 2 answered 429/),
    });
    es.throttled.clear();
    await s.send(batch);
    expect(es.outcomes.slice(-5)).toEqual(['updated', 'updated', 'created', 'updated', 'updated']);
    expect(es.documents.size).toBe(count + 5);
  });

  it('a refusal after an item that may pass is retried: only a refusal with all before it taken names a seq', async () => {
    const s = await sink();
    const batch = records(300, 4);
    es.throttled.add(batch[0]?.id as string);
    es.unmappable.add(batch[2]?.id as string);
    expect((await thrown(s.send(batch))).rejected).toBe(false);
    es.throttled.clear();
    expect(await thrown(s.send(batch))).toMatchObject({ rejected: true, seq: 302 });
  });

  it('a closed index and a cluster answering 503 are retried, never refusals of the records', async () => {
    const s = await sink();
    es.closed = true;
    expect(await thrown(s.send(records(400, 2)))).toMatchObject({
      rejected: false,
      message: expect.stringMatching(/answered 400: index_closed_exception/),
    });
    es.closed = false;
    es.busy = 1;
    expect(await thrown(s.send(records(400, 2)))).toMatchObject({
      rejected: false,
      message: expect.stringMatching(/answered 503/),
    });
    await s.send(records(400, 2));
    expect(es.outcomes.slice(-2)).toEqual(['created', 'created']);
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
  afterEach(() => {
    loki.busy = 0;
    loki.refuse.containing = null;
  });

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

  it('is throttled (429) into a retry', async () => {
    const sink = await createLokiSink(config('loki', { url: loki.url }));
    loki.busy = 1;
    expect(await thrown(sink.send(records(8, 1)))).toMatchObject({
      rejected: false,
      message: expect.stringMatching(/answered 429: Ingestion rate limit/),
    });
    await sink.send(records(8, 1));
  });
});

describe('Loki behind auth, multi-tenant', () => {
  let loki: Awaited<ReturnType<typeof startLoki>>;
  beforeAll(async () => {
    loki = await startLoki({ requireTenant: true, basic: ['elevate', 'loki-pw-secret'] });
    writeFileSync(join(dir, 'loki-pw'), 'loki-pw-secret\n');
    writeFileSync(join(dir, 'loki-pw-wrong'), 'not-it\n');
  });
  afterAll(() => loki.close());
  const auth = (file: string) => ({ type: 'basic', username: 'elevate', passwordFile: join(dir, file) });

  it('sends the credentials from the file and the tenant; without a tenant or with a wrong password it retries', async () => {
    const noTenant = await createLokiSink(config('loki', { url: loki.url, auth: auth('loki-pw') }));
    expect(await thrown(noTenant.send(records(1, 1)))).toMatchObject({
      rejected: false,
      message: expect.stringMatching(/answered 401: no org id/),
    });
    const wrong = await createLokiSink(
      config('loki', { url: loki.url, tenant: 'sec', auth: auth('loki-pw-wrong') }),
    );
    const refused = await thrown(wrong.send(records(1, 1)));
    expect(refused).toMatchObject({ rejected: false, message: expect.stringMatching(/answered 401/) });
    expect(refused.message).not.toContain('not-it');
    const sink = await createLokiSink(
      config('loki', { url: loki.url, tenant: 'sec', auth: auth('loki-pw') }),
    );
    await sink.send(records(1, 2));
    expect(loki.entries.map((e) => [e.tenant, JSON.parse(e.line).seq])).toEqual([
      ['sec', 1],
      ['sec', 2],
    ]);
    expect(loki.calls.at(-1)?.authorization).toBe(
      `Basic ${Buffer.from('elevate:loki-pw-secret').toString('base64')}`,
    );
  });
});

describe('the three sinks behind the outbox relay', () => {
  it('down for a while, each gets every event once back, none twice; a poison event is skipped after its attempts', async () => {
    const hec = await startSplunkHec(hecToken);
    const es = await startElasticsearch(esKey);
    const loki = await startLoki();
    const raw = await openSqliteStore(join(dir, 'relay.db'));
    const metrics = createMetrics(raw);
    const store = observeAuditWrites(raw, metrics.observeAudit);
    const auditSinks = [
      config('splunk', { name: 'hec', url: hec.url, tokenFile: join(dir, 'hec'), batchSize: 10 }),
      config('elasticsearch', {
        name: 'es',
        url: es.url,
        index: 'elevate-audit',
        auth: { type: 'apiKey', keyFile: join(dir, 'es') },
        batchSize: 7,
        maxAttempts: 2,
      }),
      config('loki', { name: 'loki', url: loki.url, batchSize: 10 }),
    ];
    const outbox = await buildOutbox({
      config: { file: 'elevate.yaml', auditSinks } as unknown as Config,
      store,
      metrics,
      clock: systemClock,
      logger: pino({ level: 'silent' }),
      everyMs: 100,
      retry: { minMs: 50, maxMs: 200 },
    });
    await Promise.all([hec.down(), es.down(), loki.down()]);
    const loop = outbox.newLoop();
    loop.start();
    for (let i = 1; i <= 40; i += 10)
      await store.appendAudit(
        Array.from({ length: 10 }, (_, j) => ({
          time: new Date(),
          actor: 'alice',
          action: (i + j) % 2 ? 'RequestCreated' : 'GrantActivated',
          requestId: `ar-${i + j}`,
          cluster: 'dev',
          details: { n: i + j },
        })),
      );
    // Each sink has failed at least once while its server was down.
    for (const name of ['hec', 'es', 'loki'])
      await waitFor(async () => ((await raw.getOutboxStatus(`sink:${name}`))?.failures ?? 0) > 0);
    const trail = await raw.listAudit();
    const poison = trail.find((e) => e.seq === 13);
    es.unmappable.add(poison?.hash as string);
    await Promise.all([hec.up(), es.up(), loki.up()]);

    // 40 events and the audit of the skip (seq 41), which every sink gets too.
    const all = Array.from({ length: 41 }, (_, i) => i + 1);
    await waitFor(() => hec.events.length >= 41 && loki.entries.length >= 41 && es.documents.size >= 40);
    await waitFor(async () => (await raw.getOutboxCursor('sink:es')) === 41);
    await loop.stop();
    await outbox.close();
    await Promise.all([hec.close(), es.close(), loki.close(), raw.close()]);

    const hecRecords = hec.events.map((e) => e.event as AuditRecord);
    expect(hecRecords.map((r) => r.seq)).toEqual(all);
    // Each as stored: its hash (the id) and the one before it, so the receiver can check the chain.
    expect(hecRecords.slice(0, 40).map((r) => [r.id, r.hash, r.prevHash])).toEqual(
      trail.map((e) => [e.hash, e.hash, e.prevHash]),
    );
    expect(hecRecords[40]?.prevHash).toBe(trail[39]?.hash);
    expect(loki.entries.map((e) => JSON.parse(e.line).seq).sort((a, b) => a - b)).toEqual(all);

    const docs = [...es.documents.values()] as unknown as AuditRecord[];
    expect(docs.map((d) => d.seq).sort((a, b) => a - b)).toEqual(all.filter((n) => n !== 13));
    expect(docs.find((d) => d.seq === 41)).toMatchObject({
      action: 'AuditDeliverySkipped',
      details: { consumer: 'sink:es', seq: 13, attempts: 2 },
    });
    // Items after the refused one were indexed with it, then sent again: overwritten, not duplicated.
    expect(es.outcomes).toContain('updated');
  });
});
