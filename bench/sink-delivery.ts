/**
 * Audit streaming: how fast the outbox relay delivers the audit trail to a sink, events/s.
 *
 *   npx tsx bench/sink-delivery.ts [events]
 *
 * A real SQLite store holds `events` audit events (default 20,000, appended 500 per transaction); the
 * relay as the server builds it delivers them to a webhook sink (HMAC-signed JSON batches) on a local HTTP
 * receiver that answers 200 at once, for batchSize 100 and 500, from a fresh cursor at the beginning. The
 * time runs from the first pass until the cursor stands on the last event; each delivery waits for the
 * receiver's answer and each cursor move is a committed write, as in production.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWebhookSink } from '../src/adapters/audit-sinks/webhook-sink.js';
import { openSqliteStore } from '../src/adapters/store/sqlite-store.js';
import { webhookSinkSchema } from '../src/config/audit-sink-schema.js';
import { systemClock } from '../src/domain/clock.js';
import { sinkConsumer } from '../src/services/audit-streaming.js';
import { createOutboxRelay } from '../src/services/outbox.js';
import { progress, report, runBench } from './bench-io.js';

const total = Number(process.argv[2] ?? 20_000);

runBench(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-bench-sinks-'));
  const store = await openSqliteStore(join(dir, 'elevate.db'));
  progress(`appending ${total} audit events`);
  for (let i = 0; i < total; i += 500) {
    const now = new Date();
    await store.appendAudit(
      Array.from({ length: Math.min(500, total - i) }, (_, j) => ({
        time: now,
        actor: `user-${(i + j) % 97}`,
        action: 'GrantActivated',
        requestId: `ar-bench${String(i + j).padStart(8, '0')}`,
        cluster: 'dev',
        details: {
          targets: [{ cluster: 'dev', role: 'view', namespace: 'payments' }],
          expiresAt: now.toISOString(),
        },
      })),
    );
  }
  let received = 0;
  const receiver = createServer((req, res) => {
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => {
      received += size;
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/ingest`;
  writeFileSync(join(dir, 'secret'), 'bench-signing-secret');

  report('Audit sink delivery (outbox relay -> webhook sink -> local receiver)');
  report(`  SQLite store, ${total} events waiting, sink placed at the beginning`);
  for (const batchSize of [100, 500]) {
    const config = webhookSinkSchema.parse({
      name: `bench-${batchSize}`,
      type: 'webhook',
      url,
      secretFile: join(dir, 'secret'),
      batchSize,
    });
    const consumer = sinkConsumer(await createWebhookSink(config), config);
    const relay = createOutboxRelay({ store, consumers: [consumer], clock: systemClock, batchSize: 500 });
    received = 0;
    const started = performance.now();
    while (((await store.getOutboxCursor(consumer.name)) ?? 0) < total) {
      await relay.pass();
      await relay.idle();
    }
    const seconds = (performance.now() - started) / 1000;
    report(
      `  batchSize ${batchSize}: ${total} events in ${seconds.toFixed(2)} s, ` +
        `${Math.round(total / seconds).toLocaleString('en')} events/s, ${(received / 1024 / 1024).toFixed(1)} MiB sent`,
    );
  }
  receiver.close();
  await store.close();
});
