import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/composition-root.js';
import { apiFor, requestBody, startElevate } from '../support/elevate.js';
import { createNamespace, elevateKubeconfig, testKubeconfig, uniqueName } from '../support/kube.js';

describe('logs', () => {
  it('never carry a bearer token or the cluster credentials, even at trace level', async () => {
    let logs = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logs += chunk.toString();
        done();
      },
    });
    const kubeconfig = elevateKubeconfig('dev');
    const clusterToken = /token: (\S+)/.exec(readFileSync(kubeconfig, 'utf8'))?.[1] ?? '';
    expect(clusterToken.length).toBeGreaterThan(20);
    const ns = uniqueName('logs');
    await createNamespace(testKubeconfig('dev'), ns);

    const server = await startElevate({ clusters: { dev: kubeconfig } }, createLogger('trace', sink));
    try {
      const created = await server
        .as('alice')
        .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '5m' }));
      expect(created.status).toBe(201);
      await server.as('alice').post(`/api/v1/accessrequests/${created.body.metadata.name}/revoke`, {});
      expect((await apiFor(server.url, 'wrong-secret-token-123').get('/api/v1/accessrequests')).status).toBe(
        401,
      );
    } finally {
      await server.stop();
    }
    expect(logs).toContain('request completed');
    // The logs must hold real traffic for the check below to mean anything.
    expect(logs).toContain('"phase":"Revoked"');
    for (const secret of ['token-alice', 'wrong-secret-token-123', clusterToken]) {
      expect(logs.includes(secret), `log contains ${secret.slice(0, 12)}…`).toBe(false);
    }
  });
});
