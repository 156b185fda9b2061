import { afterEach, describe, expect, inject, it } from 'vitest';
import { apiFor, requestBody, writeElevateConfig } from '../support/elevate.js';
import { elevateProcesses } from '../support/elevate-process.js';
import { freePort } from '../support/free-port.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';
import { createDatabase } from '../support/postgres-server.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

// Takeover times are printed for the closing note and bench/, never asserted: this machine is shared.
const processes = elevateProcesses();
afterEach(() => processes.stopAll());

/** A `bin/elevate server` process on `storage`, with the URL it serves. */
async function serverOn(storage: string) {
  const listen = `127.0.0.1:${await freePort()}`;
  const config = writeElevateConfig({
    clusters: { dev: elevateKubeconfig('dev') },
    storage,
    listen,
    reconcileInterval: '10m',
  });
  const url = `http://${listen}`;
  return {
    url,
    start: () => processes.start(config, url),
    as: (person: string) => apiFor(url, `token-${person}`),
    leads: async () => (await apiFor(url, null).get('/readyz')).body.leader === true,
  };
}

/** The same database reached through a TCP proxy, which can play a network partition. */
async function throughProxy(storage: string) {
  const url = new URL(storage);
  const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
  url.port = String(proxy.port());
  return { storage: url.toString(), proxy };
}

describe('the PostgreSQL lease', () => {
  it('moves to another server when the leader is killed with -9, and the grants it timed go with it', async () => {
    const storage = await createDatabase(inject('postgresUrl'), 'lease_kill');
    const ns = uniqueName('lease-kill');
    await createNamespace(testKubeconfig('dev'), ns);
    const [first, second] = [await serverOn(storage), await serverOn(storage)];
    const leader = await first.start();
    await waitFor(() => first.leads(), { timeoutMs: 10_000 });
    await second.start();
    expect(await second.leads()).toBe(false);

    const res = await first
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '5s' }));
    expect(res.body.status.phase).toBe('Active');

    const killedAt = Date.now();
    await leader.crash();
    await waitFor(() => second.leads(), { timeoutMs: 20_000, intervalMs: 20 });
    console.log(`lease takeover after kill -9 of the leader: ${Date.now() - killedAt} ms`);

    const id = res.body.metadata.name as string;
    await waitFor(
      async () =>
        (await second.as('root').get(`/api/v1/accessrequests/${id}`)).body.status.phase === 'Expired',
      {
        timeoutMs: 20_000,
      },
    );
    await waitFor(
      async () =>
        !(await canI(testKubeconfig('dev'), {
          user: 'alice',
          verb: 'list',
          resource: 'pods',
          namespace: ns,
        })),
    );
  });

  it('moves to another server when the leader is cut off from the database, after the leader stops leading', async () => {
    const storage = await createDatabase(inject('postgresUrl'), 'lease_cut');
    const link = await throughProxy(storage);
    const [first, second] = [await serverOn(link.storage), await serverOn(storage)];
    await first.start();
    await waitFor(() => first.leads(), { timeoutMs: 10_000 });
    await second.start();
    expect(await second.leads()).toBe(false);

    // Packets between the leader and PostgreSQL vanish; neither side sees the connection close.
    const cutAt = Date.now();
    link.proxy.blackhole();
    let steppedDownAt: number | null = null;
    let tookOverAt: number | null = null;
    let bothLed = false;
    await waitFor(
      async () => {
        // The new leader is asked first: if it leads and the old one still says so afterwards, both led.
        const secondLeads = await second.leads();
        const firstLeads = await first.leads();
        if (!firstLeads) steppedDownAt ??= Date.now();
        if (secondLeads) tookOverAt ??= Date.now();
        if (firstLeads && secondLeads) bothLed = true;
        return steppedDownAt !== null && tookOverAt !== null;
      },
      { timeoutMs: 40_000, intervalMs: 20 },
    );
    console.log(
      `lease after a partition: the old leader stopped after ${(steppedDownAt ?? 0) - cutAt} ms, ` +
        `another took over after ${(tookOverAt ?? 0) - cutAt} ms`,
    );
    expect(bothLed).toBe(false);
    expect(steppedDownAt).toBeLessThanOrEqual(tookOverAt ?? 0);
  });
});
