import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningElevate, requestBody, startElevate } from '../support/elevate.js';
import { freePort } from '../support/free-port.js';
import { createNamespace, elevateKubeconfig, testKubeconfig, uniqueName, waitFor } from '../support/kube.js';
import { type ProxiedCluster, proxiedCluster } from '../support/proxied-cluster.js';

/** A server whose second cluster (dev2) goes through a proxy the tests can cut. */
let server: RunningElevate;
let dev2: ProxiedCluster;
let metricsUrl: string;

beforeAll(async () => {
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  dev2 = await proxiedCluster('dev2');
  server = await startElevate({
    clusters: { dev: elevateKubeconfig('dev'), dev2: dev2.kubeconfig },
    reconcileInterval: '1s',
    extra: `metrics:\n  listen: 127.0.0.1:${port}\n`,
  });
});

afterAll(async () => {
  await server?.stop();
  await dev2?.cut();
});

/** The value of one sample line of the Prometheus text format, 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const scrape = async () => (await fetch(metricsUrl)).text();

describe('Prometheus metrics', () => {
  it('count what the audit trail records and show requests by phase', async () => {
    const ns = uniqueName('metrics');
    await createNamespace(testKubeconfig('dev'), ns);
    const before = await scrape();
    const counted = (text: string, action: string) =>
      sample(text, `elevate_audit_events_total{action="${action}"}`) -
      sample(before, `elevate_audit_events_total{action="${action}"}`);
    const res = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '2s' }));
    expect(res.body.status.phase).toBe('Active');

    const during = await scrape();
    expect(counted(during, 'GrantActivated')).toBe(1);
    expect(sample(during, 'elevate_access_requests{phase="Active"}')).toBeGreaterThanOrEqual(1);
    expect(sample(during, 'elevate_leader')).toBe(1);
    expect(sample(during, 'elevate_timers')).toBeGreaterThanOrEqual(1);

    await waitFor(async () => counted(await scrape(), 'GrantExpired') === 1, { timeoutMs: 10_000 });
    const after = await scrape();
    // Each expiry is observed once; how long removal took is the bench's business (bench/), not a test's.
    expect(
      sample(after, 'elevate_expiry_removal_lag_seconds_count') -
        sample(before, 'elevate_expiry_removal_lag_seconds_count'),
    ).toBe(1);
    expect(sample(after, 'elevate_access_requests{phase="Expired"}')).toBeGreaterThanOrEqual(1);
    expect(after).toContain('elevate_process_cpu_seconds_total');
    expect((await fetch(metricsUrl.replace('/metrics', '/other'))).status).toBe(404);
  });

  it('count failures to reach a cluster, by job', async () => {
    const ns = uniqueName('metrics-fail');
    await createNamespace(testKubeconfig('dev2'), ns);
    const res = await server
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ cluster: 'dev2', role: 'view', namespace: ns, duration: '2s' }),
      );
    expect(res.body.status.phase).toBe('Active');
    const failures = async (job: string) =>
      sample(await scrape(), `elevate_cluster_failures_total{job="${job}"}`);
    const before = { drift: await failures('drift'), grants: await failures('grants') };

    await dev2.cut();
    try {
      // The periodic drift pass over dev2 fails; so does removing the grant's binding when it falls due.
      await waitFor(async () => (await failures('drift')) > before.drift, { timeoutMs: 20_000 });
      await waitFor(async () => (await failures('grants')) > before.grants, { timeoutMs: 20_000 });
    } finally {
      await dev2.restore();
    }
    await waitFor(
      async () =>
        (await server.as('root').get(`/api/v1/accessrequests/${res.body.metadata.name}`)).body.status
          .phase === 'Expired',
      { timeoutMs: 40_000 },
    );
  });
});
