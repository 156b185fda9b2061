import { readFileSync, writeFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeElevate, createLogger, type Elevate } from '../../src/composition-root.js';
import { parseConfig } from '../../src/config/load-config.js';
import { apiFor, requestBody, writeElevateConfig } from '../support/elevate.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  rbacApi,
  testKubeconfig,
  uniqueName,
} from '../support/kube.js';
import { type ProxiedCluster, proxiedCluster } from '../support/proxied-cluster.js';

/**
 * ServiceAccounts of the testenv cluster dev sign in to Elevate with their own tokens (auth.kubernetes,
 * checked by dev's TokenReview through Elevate's least-privilege identity from deploy/elevate-rbac.yaml), are
 * matched by policies' serviceAccounts, and are bound as ServiceAccounts in dev only.
 */

const audience = 'elevate.example';
let elevate: Elevate;
let url: string;
let dev: ProxiedCluster;
let saNs: string;
const bot = () => `system:serviceaccount:${saNs}:ci-bot`;

function core(cluster: string): k8s.CoreV1Api {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testKubeconfig(cluster));
  return kc.makeApiClient(k8s.CoreV1Api);
}

/** A fresh token of the ServiceAccount, as a pod or CI job would get it (TokenRequest). */
async function mintToken(cluster: string, namespace: string, name: string, audiences = [audience]) {
  const answer = await core(cluster).createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences, expirationSeconds: 3600 } },
  });
  const token = answer.status?.token;
  if (!token) throw new Error('no token in the TokenRequest answer');
  return token;
}

beforeAll(async () => {
  saNs = uniqueName('robots');
  await createNamespace(testKubeconfig('dev'), saNs);
  await core('dev').createNamespacedServiceAccount({
    namespace: saNs,
    body: { metadata: { name: 'ci-bot' } },
  });
  dev = await proxiedCluster('dev');
  const file = writeElevateConfig({
    clusters: { dev: dev.kubeconfig, dev2: elevateKubeconfig('dev2') },
    extra: `  - name: ci-bot-views
    match: { serviceAccounts: ['${bot()}'], roles: [view] }
    decision: auto
    maxDuration: 1h
`,
  });
  const text = readFileSync(file, 'utf8').replace(
    'auth:\n',
    // An hour, so that the test of the cache does not race it.
    `auth:\n  kubernetes: { cluster: dev, audiences: [${audience}], cacheFor: 1h }\n`,
  );
  writeFileSync(file, text);
  elevate = await composeElevate(parseConfig(text, file), createLogger('silent'));
  url = await elevate.start();
});

afterAll(async () => {
  await elevate?.stop();
  await dev?.cut();
});

describe('ServiceAccount tokens via TokenReview', () => {
  it('whoami shows the ServiceAccount, its groups and the cluster it came from', async () => {
    const res = await apiFor(url, await mintToken('dev', saNs, 'ci-bot')).get('/api/v1/whoami');
    expect(res.status).toBe(200);
    expect(res.body.user).toBe(bot());
    expect(res.body.groups).toEqual(
      expect.arrayContaining([
        'system:serviceaccounts',
        `system:serviceaccounts:${saNs}`,
        'system:authenticated',
      ]),
    );
    expect(res.body.source).toEqual({ kind: 'kubernetes', cluster: 'dev' });
    expect(res.body.admin).toBe(false);
  });

  it('a policy naming the ServiceAccount grants it view in dev, bound as that ServiceAccount', async () => {
    const ci = apiFor(url, await mintToken('dev', saNs, 'ci-bot'));
    const target = uniqueName('sa-target');
    await createNamespace(testKubeconfig('dev'), target);
    const question = {
      user: bot(),
      groups: ['system:serviceaccounts', `system:serviceaccounts:${saNs}`],
      verb: 'list',
      resource: 'pods',
      namespace: target,
    };
    expect(await canI(testKubeconfig('dev'), question)).toBe(false);

    const res = await ci.post(
      '/api/v1/accessrequests',
      requestBody({ role: 'view', namespace: target, duration: '10m' }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.status.phase).toBe('Active');
    expect(res.body.spec.requester).toBe(bot());
    expect(res.body.spec.requesterSource).toBe('kubernetes');
    expect(res.body.spec.subjects).toEqual({
      dev: { kind: 'ServiceAccount', name: 'ci-bot', namespace: saNs },
    });

    const binding = await rbacApi(testKubeconfig('dev')).readNamespacedRoleBinding({
      name: `elevate-${res.body.metadata.name}`,
      namespace: target,
    });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'ci-bot', namespace: saNs }]);
    expect(await canI(testKubeconfig('dev'), question)).toBe(true);
  });

  it('is never granted anything in another cluster', async () => {
    const ci = apiFor(url, await mintToken('dev', saNs, 'ci-bot'));
    const res = await ci.post(
      '/api/v1/accessrequests',
      requestBody({ cluster: 'dev2', role: 'view', namespace: 'default', duration: '10m' }),
    );
    expect(res.status).toBe(403);
    expect(res.body.detail).toMatch(
      /ServiceAccount of cluster dev; it cannot be granted access in cluster dev2/,
    );
  });

  it('refuses a token of another cluster, for another audience, or no ServiceAccount token at all', async () => {
    const otherNs = uniqueName('robots2');
    await createNamespace(testKubeconfig('dev2'), otherNs);
    await core('dev2').createNamespacedServiceAccount({
      namespace: otherNs,
      body: { metadata: { name: 'ci-bot' } },
    });
    const refused = [
      await mintToken('dev2', otherNs, 'ci-bot'),
      await mintToken('dev', saNs, 'ci-bot', ['someone-else']),
      'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
    ];
    for (const token of refused) {
      const res = await apiFor(url, token).get('/api/v1/whoami');
      expect(res.status).toBe(401);
      expect(res.contentType).toContain('application/problem+json');
      expect(res.body.detail).toMatch(/^the cluster dev does not accept this token/);
      expect(res.body.detail).not.toContain(token);
    }
  });

  it('reuses an answer for the same token while cached (auth.kubernetes.cacheFor)', async () => {
    await core('dev').createNamespacedServiceAccount({
      namespace: saNs,
      body: { metadata: { name: 'short-lived' } },
    });
    const token = await mintToken('dev', saNs, 'short-lived');
    expect((await apiFor(url, token).get('/api/v1/whoami')).status).toBe(200);
    // Deleting the account invalidates its tokens in the cluster at once; Elevate answers from its cache.
    await core('dev').deleteNamespacedServiceAccount({ name: 'short-lived', namespace: saNs });
    const again = await apiFor(url, token).get('/api/v1/whoami');
    expect(again.status).toBe(200);
    expect(again.body.user).toBe(`system:serviceaccount:${saNs}:short-lived`);
  });

  it('refuses, saying why, while the cluster cannot be asked', async () => {
    const token = await mintToken('dev', saNs, 'ci-bot');
    await dev.cut();
    try {
      const res = await apiFor(url, token).get('/api/v1/whoami');
      expect(res.status).toBe(401);
      expect(res.body.detail).toBe(
        'cannot check the token now: cluster dev unreachable or refusing; try again',
      );
      // /readyz says so while it lasts (it stays ready: other sources still work).
      const ready = await apiFor(url, null).get('/readyz');
      expect(ready.body.detail).toContain('cannot check ServiceAccount tokens: cluster dev unreachable');
    } finally {
      await dev.restore();
    }
    // Nothing was cached while it failed: the same token works once the cluster answers again.
    expect((await apiFor(url, token).get('/api/v1/whoami')).status).toBe(200);
    expect((await apiFor(url, null).get('/readyz')).body.detail ?? '').not.toContain('ServiceAccount');
  });
});
