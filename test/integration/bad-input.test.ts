import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiFor,
  expectCreateRefused,
  type RunningElevate,
  requestBody,
  startElevate,
  stateOf,
} from '../support/elevate.js';
import { createNamespace, elevateKubeconfig, testKubeconfig, uniqueName } from '../support/kube.js';

let server: RunningElevate;
let ns: string;

beforeAll(async () => {
  const kubeconfig = testKubeconfig('dev');
  server = await startElevate({ clusters: { dev: elevateKubeconfig('dev') } });
  ns = uniqueName('bad');
  await createNamespace(kubeconfig, ns);
});

afterAll(async () => {
  await server?.stop();
});

describe('bad input gets a clear problem naming the field, and changes nothing', () => {
  const cases: [string, () => unknown, number, RegExp, string?][] = [
    [
      'a duration of abc',
      () => requestBody({ role: 'view', namespace: ns, duration: 'abc' }),
      400,
      /must be a Go duration/,
      'spec.duration',
    ],
    [
      'a negative duration',
      () => requestBody({ role: 'view', namespace: ns, duration: '-5m' }),
      400,
      /must be a Go duration/,
      'spec.duration',
    ],
    [
      'an unknown cluster',
      () => requestBody({ cluster: 'prod', role: 'view', namespace: ns, duration: '5m' }),
      400,
      /must be one of the configured clusters: dev/,
      'spec.cluster',
    ],
    [
      'a missing reason',
      () => ({ spec: { cluster: 'dev', role: 'view', namespace: ns, duration: '5m' } }),
      400,
      /reason/,
      'spec.reason',
    ],
    [
      'a blank reason',
      () => requestBody({ role: 'view', namespace: ns, duration: '5m', reason: '   ' }),
      400,
      /a reason is required/,
      'spec.reason',
    ],
    [
      'an unknown field',
      () => requestBody({ role: 'view', namespace: ns, duration: '5m', colour: 'red' }),
      400,
      /colour/,
      'spec',
    ],
    [
      'both namespace and cluster-wide',
      () => requestBody({ role: 'view', namespace: ns, clusterWide: true, duration: '5m' }),
      400,
      /not both/,
      'spec',
    ],
    [
      'neither namespace nor cluster-wide',
      () => requestBody({ role: 'view', duration: '5m' }),
      400,
      /give a namespace/,
      'spec.namespace',
    ],
    [
      'a namespace that does not exist',
      () => requestBody({ role: 'view', namespace: 'no-such-ns', duration: '5m' }),
      404,
      /namespace no-such-ns not found/,
      'spec.namespace',
    ],
    [
      'a Role that does not exist',
      () => requestBody({ role: 'ghost', roleKind: 'Role', namespace: ns, duration: '5m' }),
      404,
      /Role ghost not found/,
      'spec.role',
    ],
    [
      'a cluster-wide Role',
      () => requestBody({ role: 'ghost', roleKind: 'Role', clusterWide: true, duration: '5m' }),
      400,
      /Role is namespaced/,
      'spec.roleKind',
    ],
    [
      'a duration over the policy maximum',
      () => requestBody({ role: 'view', namespace: ns, duration: '9h' }),
      403,
      /exceeds the maximum 8h of policy view-auto/,
      'spec.duration',
    ],
    [
      'cluster-admin, whatever a policy says',
      () => requestBody({ role: 'cluster-admin', clusterWide: true, duration: '5m' }),
      403,
      /cluster-admin is never granted/,
    ],
    [
      'a role no policy allows',
      () => requestBody({ role: 'system:aggregate-to-edit', namespace: ns, duration: '5m' }),
      403,
      /no policy allows alice/,
    ],
    [
      'a wrong apiVersion',
      () => ({ ...requestBody({ role: 'view', namespace: ns, duration: '5m' }), apiVersion: 'v2' }),
      400,
      /apiVersion/,
      'apiVersion',
    ],
  ];

  it.each(cases)('%s', (_what, body, status, detail, field) =>
    expectCreateRefused(server, body(), { status, detail, field }),
  );

  it('malformed JSON', async () => {
    const before = await stateOf(server);
    const res = await server.as('alice').raw('/api/v1/accessrequests', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"spec": {',
    });
    expect(res.status).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect(await stateOf(server)).toEqual(before);
  });

  it('an unknown id is 404, an unknown route is 404', async () => {
    expect((await server.as('root').get('/api/v1/accessrequests/ar-nope')).status).toBe(404);
    expect((await server.as('root').post('/api/v1/accessrequests/ar-nope/approve', {})).status).toBe(404);
    expect((await server.as('root').get('/api/v1/nothing')).status).toBe(404);
  });

  it('a missing or unknown token is 401 on every API route', async () => {
    for (const token of [null, 'not-a-token']) {
      const api = apiFor(server.url, token);
      for (const res of [
        await api.get('/api/v1/accessrequests'),
        await api.get('/api/v1/accessrequests/ar-x'),
        await api.post(
          '/api/v1/accessrequests',
          requestBody({ role: 'view', namespace: ns, duration: '5m' }),
        ),
        await api.post('/api/v1/accessrequests/ar-x/approve', {}),
        await api.get('/api/v1/audit/export'),
        await api.get('/api/v1/whoami'),
      ]) {
        expect(res.status).toBe(401);
        expect(res.contentType).toContain('application/problem+json');
      }
    }
  });

  it('serves health, readiness and the OpenAPI document without a token', async () => {
    const anon = apiFor(server.url, null);
    expect((await anon.get('/healthz')).status).toBe(200);
    expect((await anon.get('/readyz')).status).toBe(200);
    const doc = await anon.get('/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/accessrequests',
        '/api/v1/accessrequests/{name}',
        '/api/v1/accessrequests/{name}/approve',
        '/api/v1/audit/export',
      ]),
    );
  });
});
