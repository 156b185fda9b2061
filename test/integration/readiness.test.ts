import { afterEach, describe, expect, it } from 'vitest';
import { apiFor, requestBody, writeElevateConfig } from '../support/elevate.js';
import { elevateProcesses } from '../support/elevate-process.js';
import { freePort } from '../support/free-port.js';
import { createNamespace, rbacApi, testKubeconfig, uniqueName, waitFor } from '../support/kube.js';
import { proxiedCluster } from '../support/proxied-cluster.js';

const servers = elevateProcesses();
afterEach(() => servers.stopAll());

describe('/readyz', () => {
  it('answers 503 while the start-up catch-up is held up by an unreachable cluster, 200 once it is done', async () => {
    const kubeconfig = testKubeconfig('dev2');
    const ns = uniqueName('readyz');
    await createNamespace(kubeconfig, ns);
    const cluster = await proxiedCluster('dev2');
    const listen = `127.0.0.1:${await freePort()}`;
    const url = `http://${listen}`;
    const config = writeElevateConfig({
      clusters: { dev2: cluster.kubeconfig },
      reconcileInterval: '10m',
      listen,
    });
    const as = (person: string) => apiFor(url, `token-${person}`);
    const readyz = async () => (await fetch(`${url}/readyz`)).status;
    try {
      const first = await servers.start(config, url);
      const res = await as('alice').post(
        '/api/v1/accessrequests',
        requestBody({ cluster: 'dev2', role: 'view', namespace: ns, duration: '2s' }),
      );
      expect(res.body.status.phase).toBe('Active');
      const id = res.body.metadata.name;
      await first.crash();
      await cluster.cut();
      await new Promise((r) => setTimeout(r, Date.parse(res.body.status.grant.expiresAt) - Date.now() + 500));

      // The restart finds an overdue grant on a cluster it cannot reach: not ready, and saying so.
      const second = servers.spawn(config);
      await waitFor(async () => (await readyz()) === 503, { timeoutMs: 15_000, intervalMs: 20 }).catch(
        (e) => {
          throw new Error(`${(e as Error).message}\n${second.output()}`);
        },
      );
      const binding = await rbacApi(kubeconfig).readNamespacedRoleBinding({
        name: `elevate-${id}`,
        namespace: ns,
      });
      expect(binding.metadata?.labels?.['elevate.dev/request']).toBe(id);

      await cluster.restore();
      await waitFor(async () => (await readyz()) === 200, { timeoutMs: 30_000, intervalMs: 20 });
      await waitFor(
        async () => (await as('root').get(`/api/v1/accessrequests/${id}`)).body.status.phase === 'Expired',
        { timeoutMs: 30_000 },
      );
      await expect(
        rbacApi(kubeconfig).readNamespacedRoleBinding({ name: `elevate-${id}`, namespace: ns }),
      ).rejects.toMatchObject({ code: 404 });
    } finally {
      await cluster.cut();
    }
  });
});
