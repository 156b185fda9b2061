import type * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { apiFor, requestBody, writeElevateConfig } from '../support/elevate.js';
import { elevateProcesses } from '../support/elevate-process.js';
import { freePort } from '../support/free-port.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  rbacApi,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';
import { proxiedCluster } from '../support/proxied-cluster.js';

// How fast the catch-up is, is measured by bench/restart-catch-up.ts; these tests say what it does.
const servers = elevateProcesses();
afterEach(() => servers.stopAll());

/** A config for `bin/elevate server` on a fixed port, so a restart serves at the same URL. */
async function serverConfig(clusters: Record<string, string>) {
  const listen = `127.0.0.1:${await freePort()}`;
  // A long reconcile interval, so it is the start-up catch-up, not a periodic drift pass, that acts.
  const config = writeElevateConfig({ clusters, reconcileInterval: '10m', listen });
  const url = `http://${listen}`;
  return { config, url, as: (person: string) => apiFor(url, `token-${person}`) };
}

async function bindingExists(kubeconfig: string, namespace: string, id: string): Promise<boolean> {
  try {
    await rbacApi(kubeconfig).readNamespacedRoleBinding({ name: `elevate-${id}`, namespace });
    return true;
  } catch (e) {
    if ((e as k8s.ApiException<unknown>).code === 404) return false;
    throw e;
  }
}

const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));

describe('after kill -9, the restart catches up before it reports ready', () => {
  it('removes a grant whose expiry passed while the server was down', async () => {
    const kubeconfig = testKubeconfig('dev');
    const ns = uniqueName('crash');
    await createNamespace(kubeconfig, ns);
    const canList = () => canI(kubeconfig, { user: 'alice', verb: 'list', resource: 'pods', namespace: ns });
    const { config, url, as } = await serverConfig({ dev: elevateKubeconfig('dev') });

    const first = await servers.start(config, url);
    const res = await as('alice').post(
      '/api/v1/accessrequests',
      requestBody({ role: 'view', namespace: ns, duration: '3s' }),
    );
    expect(res.body.status.phase).toBe('Active');
    const id = res.body.metadata.name;
    await waitFor(canList);

    await first.crash();
    await sleepUntil(Date.parse(res.body.status.grant.expiresAt) + 1000);
    // Nobody removed it while Elevate was down.
    expect(await bindingExists(kubeconfig, ns, id)).toBe(true);

    await servers.start(config, url);
    // Ready means caught up: the binding is gone and the request says so, without waiting further.
    expect(await bindingExists(kubeconfig, ns, id)).toBe(false);
    expect((await as('root').get(`/api/v1/accessrequests/${id}`)).body.status.phase).toBe('Expired');
    await waitFor(async () => !(await canList()));
  });

  it('times out a pending request whose approval deadline passed while the server was down', async () => {
    const ns = uniqueName('crash-pending');
    await createNamespace(testKubeconfig('dev'), ns);
    const { config, url, as } = await serverConfig({ dev: elevateKubeconfig('dev') });

    const first = await servers.start(config, url);
    // admin-times-out: one approval from bob within 2 s.
    const res = await as('alice').post(
      '/api/v1/accessrequests',
      requestBody({ role: 'admin', namespace: ns, duration: '5m' }),
    );
    expect(res.body.status.phase).toBe('Pending');
    const id = res.body.metadata.name;
    await first.crash();
    await sleepUntil(Date.parse(res.body.status.approvalDeadline) + 1000);

    await servers.start(config, url);
    expect((await as('root').get(`/api/v1/accessrequests/${id}`)).body.status.phase).toBe('TimedOut');
    expect((await as('bob').post(`/api/v1/accessrequests/${id}/approve`, {})).status).toBe(409);
  });

  it('writes the binding of a request approved while its cluster was unreachable', async () => {
    const kubeconfig = testKubeconfig('dev2');
    const ns = uniqueName('crash-approved');
    await createNamespace(kubeconfig, ns);
    const cluster = await proxiedCluster('dev2');
    const { config, url, as } = await serverConfig({ dev2: cluster.kubeconfig });
    try {
      const first = await servers.start(config, url);
      const res = await as('alice').post(
        '/api/v1/accessrequests',
        requestBody({ cluster: 'dev2', role: 'edit', namespace: ns, duration: '30m' }),
      );
      expect(res.body.status.phase).toBe('Pending');
      const id = res.body.metadata.name;
      await cluster.cut();
      await as('bob').post(`/api/v1/accessrequests/${id}/approve`, {});
      const approved = await as('carol').post(`/api/v1/accessrequests/${id}/approve`, {});
      expect(approved.body.status.phase).toBe('Approved');
      await first.crash();
      await cluster.restore();
      expect(await bindingExists(kubeconfig, ns, id)).toBe(false);

      await servers.start(config, url);
      expect(await bindingExists(kubeconfig, ns, id)).toBe(true);
      const after = (await as('alice').get(`/api/v1/accessrequests/${id}`)).body;
      expect(after.status.phase).toBe('Active');
      await waitFor(() =>
        canI(kubeconfig, {
          user: 'alice',
          verb: 'create',
          resource: 'deployments',
          group: 'apps',
          namespace: ns,
        }),
      );
      // The grant runs its full duration from when the binding was written, not from the approval.
      expect(Date.parse(after.status.grant.expiresAt) - Date.parse(after.status.grant.activatedAt)).toBe(
        30 * 60_000,
      );
      await as('alice').post(`/api/v1/accessrequests/${id}/revoke`, {});
    } finally {
      await cluster.cut();
    }
  });
});
