import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createMetrics, observeAuditWrites } from '../../src/adapters/metrics/prometheus-metrics.js';
import { webhookConsumerName } from '../../src/adapters/notify/webhook-notifier.js';
import { openPostgresStore } from '../../src/adapters/store/postgres-store.js';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store.js';
import { buildOutbox } from '../../src/composition/build-outbox.js';
import type { Config } from '../../src/config/load-config.js';
import type { AuditEventInput } from '../../src/domain/audit-event.js';
import { systemClock } from '../../src/domain/clock.js';
import type { Store } from '../../src/services/ports.js';
import { startElevate } from '../support/elevate.js';
import { elevateKubeconfig, waitFor } from '../support/kube.js';
import { createDatabase } from '../support/postgres-server.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

const dialects = [
  {
    name: 'SQLite',
    open: () => openSqliteStore(join(mkdtempSync(join(tmpdir(), 'elevate-outbox-')), 'elevate.db')),
  },
  {
    name: 'PostgreSQL',
    open: async () => openPostgresStore(await createDatabase(inject('postgresUrl'), 'outbox')),
  },
];

const breakGlassUsed = (reason = 'checkout is down'): AuditEventInput => ({
  time: new Date(),
  actor: 'alice',
  action: 'BreakGlassActivated',
  requestId: 'req-1',
  cluster: 'prod',
  details: {
    severity: 'high',
    targets: [{ cluster: 'prod', role: 'cluster-admin' }],
    duration: '1h',
    reason,
    review: 'rev-1',
  },
});

const routine = (): AuditEventInput => ({
  time: new Date(),
  actor: 'bob',
  action: 'GrantActivated',
  requestId: 'req-2',
  cluster: 'prod',
  details: {},
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Elevate's relay as the composition root builds it, over a real store, told about `urls`. */
async function relayTo(raw: Store, urls: string[]) {
  const metrics = createMetrics(raw);
  const store = observeAuditWrites(raw, metrics.observeAudit);
  const config = { file: 'elevate.yaml', auditSinks: [], breakglass: { notify: urls } } as unknown as Config;
  const outbox = await buildOutbox({
    config,
    store,
    metrics,
    clock: systemClock,
    logger: pino({ level: 'silent' }),
    retry: { minMs: 100, maxMs: 400 },
  });
  const metric = async (name: string, url: string) => {
    const text = await metrics.registry.metrics();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`${name}{consumer="${webhookConsumerName(url)}"}`));
    return line ? Number(line.split(' ').at(-1)) : undefined;
  };
  return { store, outbox, metric };
}

describe.each(dialects)('outbox relay on $name', (dialect) => {
  async function fresh(): Promise<Store> {
    const store = await dialect.open();
    cleanups.push(() => store.close());
    return store;
  }
  async function receiver() {
    const r = await startWebhookReceiver();
    cleanups.push(() => r.close());
    return r;
  }

  it('POSTs a break-glass use to the webhook at once, and only what came after it was configured', async () => {
    const raw = await fresh();
    const hook = await receiver();
    const { store, outbox } = await relayTo(raw, [`${hook.url}/services/T000/B000/s3cr3t`]);
    await store.appendAudit([breakGlassUsed('before the webhook existed')]);
    const loop = outbox.newLoop();
    loop.start();
    await waitFor(async () => ((await raw.getOutboxCursor(outbox.consumers[0]?.name ?? '')) ?? 0) > 0);

    await store.appendAudit([routine(), breakGlassUsed()]);
    const [got] = await waitFor(() => (hook.received.length > 0 ? hook.received : null));
    await loop.stop();

    const [, , stored] = await raw.listAudit();
    expect(hook.received).toHaveLength(1);
    expect(got?.path).toBe('/services/T000/B000/s3cr3t');
    expect(got?.headers['content-type']).toBe('application/json');
    expect(got?.headers['user-agent']).toMatch(/^elevate\/\d/);
    expect(got?.body).toMatchObject({
      type: 'BreakGlassActivated',
      severity: 'high',
      actor: 'alice',
      requestId: 'req-1',
      cluster: 'prod',
      seq: stored?.seq,
      hash: stored?.hash,
      details: { reason: 'checkout is down', review: 'rev-1' },
    });
    expect(got?.body.text).toBe(
      '[elevate] BREAK-GLASS: alice took emergency access to prod/cluster-admin for 1h (request req-1): checkout is down',
    );
    expect(outbox.consumers[0]?.name).not.toContain('s3cr3t');
  });

  it('retries a failing webhook until it answers, delivering the event once, and counts the failures', async () => {
    const raw = await fresh();
    const hook = await receiver();
    const { store, outbox, metric } = await relayTo(raw, [hook.url]);
    const loop = outbox.newLoop();
    loop.start();
    await waitFor(async () => (await raw.getOutboxCursor(webhookConsumerName(hook.url))) !== null);
    hook.failNext(3, 503);
    await store.appendAudit([breakGlassUsed()]);
    await waitFor(() => hook.received.length === 1);
    await waitFor(async () => (await metric('elevate_outbox_delivered_events_total', hook.url)) === 1);
    await loop.stop();

    expect(hook.refused).toBe(3);
    expect(hook.received).toHaveLength(1);
    expect(await metric('elevate_outbox_delivery_failures_total', hook.url)).toBe(3);
    expect(await raw.getOutboxCursor(webhookConsumerName(hook.url))).toBe((await raw.auditHead())?.seq);
  });

  it('resumes from its cursor after a restart: what was written meanwhile arrives, nothing twice', async () => {
    const raw = await fresh();
    const hook = await receiver();
    const first = await relayTo(raw, [hook.url]);
    const loop = first.outbox.newLoop();
    loop.start();
    await waitFor(async () => (await raw.getOutboxCursor(webhookConsumerName(hook.url))) !== null);
    await first.store.appendAudit([breakGlassUsed('one')]);
    await waitFor(() => hook.received.length === 1);
    await loop.stop();

    // Down: written by another server, or before this one's relay came back.
    await raw.appendAudit([breakGlassUsed('two'), routine(), breakGlassUsed('three')]);
    const restarted = await relayTo(raw, [hook.url]);
    const again = restarted.outbox.newLoop();
    again.start();
    await waitFor(() => hook.received.length === 3);
    await restarted.store.appendAudit([breakGlassUsed('four')]);
    await waitFor(() => hook.received.length === 4);
    await again.stop();

    expect(hook.received.map((r) => (r.body.details as { reason: string }).reason)).toEqual([
      'one',
      'two',
      'three',
      'four',
    ]);
  });

  it('keeps delivering to one webhook while another is down, and catches the other up once it is back', async () => {
    const raw = await fresh();
    const up = await receiver();
    const down = await receiver();
    const { store, outbox, metric } = await relayTo(raw, [down.url, up.url]);
    const loop = outbox.newLoop();
    loop.start();
    await waitFor(async () => (await raw.getOutboxCursor(webhookConsumerName(down.url))) !== null);
    await down.down();
    await store.appendAudit([breakGlassUsed('one')]);
    await store.appendAudit([breakGlassUsed('two')]);
    await waitFor(() => up.received.length === 2);
    await waitFor(async () => ((await metric('elevate_outbox_delivery_failures_total', down.url)) ?? 0) >= 2);
    await waitFor(async () => (await metric('elevate_outbox_lag_events', down.url)) === 2);
    expect(down.received).toHaveLength(0);

    await down.up();
    await waitFor(() => down.received.length === 2);
    await loop.stop();
    expect(down.received.map((r) => r.body.seq)).toEqual(up.received.map((r) => r.body.seq));
  });
});

describe('break-glass webhooks in a running Elevate', () => {
  it('are delivered by the leader for events any server writes, from breakglass.notify', async () => {
    const hook = await startWebhookReceiver();
    cleanups.push(() => hook.close());
    const server = await startElevate({
      clusters: { dev: elevateKubeconfig('dev') },
      extra: `breakglass:\n  roster: { users: [bob] }\n  notify: ['${hook.url}/hook']\n`,
    });
    cleanups.push(() => server.stop());
    // Another server on the same database: the leader's relay finds its events at the next tick.
    const other = await openSqliteStore(join(dirname(server.configFile), 'elevate.db'));
    cleanups.push(() => other.close());
    const consumer = webhookConsumerName(`${hook.url}/hook`);
    await waitFor(async () => (await other.getOutboxCursor(consumer)) !== null);
    await other.appendAudit([routine(), breakGlassUsed()]);

    await waitFor(() => hook.received.length === 1);
    expect(hook.received[0]?.body).toMatchObject({ type: 'BreakGlassActivated', actor: 'alice' });
    await waitFor(async () => (await other.getOutboxCursor(consumer)) === (await other.auditHead())?.seq);
  });
});
