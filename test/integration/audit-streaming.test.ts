import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { elevateCli } from '../support/cli.js';
import {
  apiFor,
  auditEvents,
  type RunningElevate,
  requestBody,
  startElevate,
  writeElevateConfig,
} from '../support/elevate.js';
import { elevateProcesses } from '../support/elevate-process.js';
import { freePort } from '../support/free-port.js';
import { elevateKubeconfig, uniqueName, waitFor } from '../support/kube.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

type Receiver = Awaited<ReturnType<typeof startWebhookReceiver>>;
interface Delivered {
  id: string;
  seq: number;
  hash: string;
  prevHash: string;
  action: string;
  actor: string;
}

const secretDir = mkdtempSync(join(tmpdir(), 'elevate-sinks-'));
const signingSecret = 'whsec-test-signing-key';
const apiKey = 'siem-api-key-from-a-file';
writeFileSync(join(secretDir, 'signing'), `${signingSecret}\n`);
writeFileSync(join(secretDir, 'api-key'), apiKey);

/** audit.sinks with one webhook sink named `name` pointing at the receiver. */
const sinkConfig = (receiver: Receiver, name: string, extra = '') => `
audit:
  sinks:
    - name: ${name}
      type: webhook
      url: ${receiver.url}/ingest
      secretFile: ${join(secretDir, 'signing')}
      headers: { X-Source: elevate-test }
      headerFiles: { X-Api-Key: ${join(secretDir, 'api-key')} }
      batchSize: 20
      maxAttempts: 3
${extra}`;

/** Every event the receiver accepted, in the order it got them. */
const deliveredTo = (receiver: Receiver): Delivered[] =>
  receiver.received.flatMap((w) => (w.body.events as Delivered[]) ?? []);

/** Audit events a request refused by policy makes (mallory's group has no policy): cheap, and no cluster write. */
async function makeEvents(server: { as: RunningElevate['as'] }, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await server
      .as('mallory')
      .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: 'default' }));
    expect(res.status).toBe(403);
  }
}

async function headSeq(server: RunningElevate): Promise<number> {
  return (await server.as('root').get('/api/v1/audit/verify')).body.head.seq;
}

describe('audit streaming to a webhook sink', () => {
  let receiver: Receiver;
  let server: RunningElevate;
  let metricsUrl: string;
  const metric = async (name: string) => {
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{sink="siem"}`));
    return line ? Number(line.split(' ').at(-1)) : Number.NaN;
  };

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    metricsUrl = `http://127.0.0.1:${await freePort()}`;
    server = await startElevate({
      clusters: { dev: elevateKubeconfig('dev') },
      extra: `${sinkConfig(receiver, 'siem')}\nmetrics:\n  listen: ${metricsUrl.slice('http://'.length)}\n`,
    });
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
  });

  it('delivers the whole trail from its first event, in order, each with its seq and chain hashes, signed', async () => {
    await makeEvents(server, 5);
    const head = await headSeq(server);
    await waitFor(() => deliveredTo(receiver).length >= head);
    const got = deliveredTo(receiver).slice(0, head);
    expect(got.map((e) => e.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    // The chain checks out at the receiver: each event names the hash before it; the id is the hash.
    for (let i = 1; i < got.length; i++) expect(got[i]?.prevHash).toBe(got[i - 1]?.hash);
    for (const e of got) expect(e.id).toBe(e.hash);
    const trail = await auditEvents(server);
    expect(got.map((e) => [e.seq, e.action, e.hash])).toEqual(
      trail.slice(0, head).map((e: Delivered) => [e.seq, e.action, e.hash]),
    );
    // Signed as documented (t=<unix>,v1=hex HMAC of "t.body"), with the extra headers, one from a file.
    const first = receiver.received[0];
    const signature = String(first?.headers['x-elevate-signature']);
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature) ?? [];
    const expected = createHmac('sha256', signingSecret)
      .update(`${t}.${JSON.stringify(first?.body)}`)
      .digest('hex');
    expect(v1).toBe(expected);
    expect(first?.headers['x-source']).toBe('elevate-test');
    expect(first?.headers['x-api-key']).toBe(apiKey);
    // Batches of at most batchSize.
    expect(
      Math.max(...receiver.received.map((w) => (w.body.events as unknown[]).length)),
    ).toBeLessThanOrEqual(20);
  });

  it('a sink down while hundreds of events happen gets every one once it is back, none twice', async () => {
    await receiver.down();
    const before = await headSeq(server);
    await makeEvents(server, 150);
    const head = await headSeq(server);
    expect(head - before).toBeGreaterThanOrEqual(150);
    // Meanwhile `audit sinks` shows it failing and behind.
    const status = await waitFor(async () => {
      const [s] = (await server.as('root').get('/api/v1/audit/sinks')).body.items;
      return s.failures > 0 && s.lagEvents > 0 ? s : null;
    });
    expect(status).toMatchObject({ name: 'siem', type: 'webhook', skipped: 0 });
    expect(status.lastError).toMatch(/127\.0\.0\.1/);
    expect(status.lastError).not.toContain(apiKey);
    expect(status.lagSeconds).toBeGreaterThan(0);
    // And /metrics on the lease holder.
    await waitFor(async () => (await metric('elevate_audit_sink_lag_events')) > 0);
    expect(await metric('elevate_audit_sink_failures_total')).toBeGreaterThan(0);
    expect(await metric('elevate_audit_sink_lag_seconds')).toBeGreaterThan(0);
    // The CLI says so too, and exits 1 while a sink is failing (for a cron job or a probe).
    const cli = await elevateCli(server.url)('root', 'audit', 'sinks');
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/^NAME\s+TYPE\s+CURSOR\s+LAG/);
    expect(cli.stdout).toMatch(/siem\s+webhook\s+/);
    expect(cli.stdout).toMatch(/siem: failing since .*127\.0\.0\.1/);
    expect(cli.stdout).not.toContain(apiKey);
    await receiver.up();
    await waitFor(() => deliveredTo(receiver).some((e) => e.seq === head), { timeoutMs: 30_000 });
    const seqs = deliveredTo(receiver).map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs.slice(0, head)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    const [after] = (await server.as('root').get('/api/v1/audit/sinks')).body.items;
    expect(after).toMatchObject({ failures: 0, lagEvents: expect.any(Number), cursor: expect.any(Number) });
    expect(after.cursor).toBeGreaterThanOrEqual(head);
  });

  it('an event the sink keeps refusing (400) is skipped after maxAttempts, recorded, and the rest goes on', async () => {
    const poison = (await headSeq(server)) + 1;
    receiver.refuseWhen((body) => ((body.events as Delivered[]).some((e) => e.seq === poison) ? 400 : null));
    await makeEvents(server, 3);
    // maxAttempts 3, retried with backoff from 1 s: skipped within a few seconds.
    const skip = await waitFor(
      async () =>
        (await auditEvents(server)).find(
          (e) => e.action === 'AuditDeliverySkipped' && e.details.seq === poison,
        ),
      { timeoutMs: 40_000 },
    );
    expect(skip.details).toMatchObject({ consumer: 'sink:siem', attempts: 3, action: 'RequestRefused' });
    expect(skip.details.error).toMatch(/answered 400/);
    receiver.refuseWhen(null);
    // Everything after it arrives, the record of the skip included; the poison event itself never did.
    await waitFor(() => deliveredTo(receiver).some((e) => e.action === 'AuditDeliverySkipped'));
    const seqs = new Set(deliveredTo(receiver).map((e) => e.seq));
    expect(seqs.has(poison)).toBe(false);
    for (const s of [poison + 1, poison + 2]) expect(seqs.has(s)).toBe(true);
    const [status] = (await server.as('root').get('/api/v1/audit/sinks')).body.items;
    expect(status.skipped).toBe(1);
    expect(status.recentSkips[0]).toMatchObject({ seq: poison });
  });

  it('is for admins only', async () => {
    expect((await server.as('alice').get('/api/v1/audit/sinks')).status).toBe(403);
  });
});

describe('audit streaming across kill -9', () => {
  const servers = elevateProcesses();
  afterEach(() => servers.stopAll());

  it('a server killed mid-delivery resumes at its cursor after the restart: nothing lost', async () => {
    const receiver = await startWebhookReceiver();
    try {
      // Slow answers and small batches: the kill lands while deliveries are under way.
      receiver.slow(150);
      const listen = `127.0.0.1:${await freePort()}`;
      const config = writeElevateConfig({
        clusters: { dev: elevateKubeconfig('dev') },
        listen,
        extra: sinkConfig(receiver, uniqueName('crash')).replace('batchSize: 20', 'batchSize: 5'),
      });
      const url = `http://${listen}`;
      const as = (person: string) => apiFor(url, `token-${person}`);
      const first = await servers.start(config, url);
      await makeEvents({ as: as as RunningElevate['as'] }, 60);
      await waitFor(() => deliveredTo(receiver).length >= 10);
      await first.crash();
      const delivered = deliveredTo(receiver).length;
      expect(delivered).toBeLessThan(60);
      receiver.slow(0);
      await servers.start(config, url);
      const head = (await as('root').get('/api/v1/audit/verify')).body.head.seq;
      await waitFor(() => new Set(deliveredTo(receiver).map((e) => e.seq)).size >= head, {
        timeoutMs: 30_000,
      });
      const seqs = deliveredTo(receiver).map((e) => e.seq);
      expect([...new Set(seqs)].sort((a, b) => a - b)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
      // At least once: only the batch under way at the kill may come twice (a receiver dedupes by id).
      expect(seqs.length - new Set(seqs).size).toBeLessThanOrEqual(5);
    } finally {
      await receiver.close();
    }
  });
});
