import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningElevate, requestBody, startElevate } from '../support/elevate.js';
import { freePort } from '../support/free-port.js';
import { createNamespace, elevateKubeconfig, testKubeconfig, uniqueName, waitFor } from '../support/kube.js';

let server: RunningElevate;
let metricsUrl: string;

beforeAll(async () => {
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  server = await startElevate({
    clusters: { dev: elevateKubeconfig('dev') },
    extra: `metrics:\n  listen: 127.0.0.1:${port}\n`,
  });
});

afterAll(async () => {
  await server?.stop();
});

/** The value of one sample line of the Prometheus text format, 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('Prometheus metrics', () => {
  it('count what the audit trail records and show requests by phase', async () => {
    const ns = uniqueName('metrics');
    await createNamespace(testKubeconfig('dev'), ns);
    const res = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '2s' }));
    expect(res.body.status.phase).toBe('Active');
    const scrape = async () => (await fetch(metricsUrl)).text();

    const during = await scrape();
    expect(sample(during, 'elevate_audit_events_total{action="GrantActivated"}')).toBe(1);
    expect(sample(during, 'elevate_access_requests{phase="Active"}')).toBeGreaterThanOrEqual(1);
    expect(sample(during, 'elevate_leader')).toBe(1);
    expect(sample(during, 'elevate_timers')).toBeGreaterThanOrEqual(1);

    await waitFor(
      async () => sample(await scrape(), 'elevate_audit_events_total{action="GrantExpired"}') === 1,
      {
        timeoutMs: 10_000,
      },
    );
    const after = await scrape();
    expect(sample(after, 'elevate_expiry_removal_lag_seconds_count')).toBe(1);
    expect(sample(after, 'elevate_expiry_removal_lag_seconds_sum')).toBeLessThan(5);
    expect(sample(after, 'elevate_access_requests{phase="Expired"}')).toBeGreaterThanOrEqual(1);
    expect(after).toContain('elevate_process_cpu_seconds_total');
    expect((await fetch(metricsUrl.replace('/metrics', '/other'))).status).toBe(404);
  });
});
