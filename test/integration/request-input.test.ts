import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCreateRefused, type RunningElevate, requestBody, startElevate } from '../support/elevate.js';
import { createNamespace, elevateKubeconfig, testKubeconfig, uniqueName } from '../support/kube.js';

/** What a request may hold: durations within limits, Kubernetes names, text without control characters. */

let server: RunningElevate;
let ns: string;

beforeAll(async () => {
  server = await startElevate({ clusters: { dev: elevateKubeconfig('dev') } });
  ns = uniqueName('input');
  await createNamespace(testKubeconfig('dev'), ns);
});

afterAll(async () => {
  await server?.stop();
});

const view = (spec: Record<string, unknown>) => requestBody({ role: 'view', namespace: ns, ...spec });

describe('request input is checked at the edge, and refused input changes nothing', () => {
  const cases: [string, () => unknown, number, RegExp, string][] = [
    [
      'a 400-digit duration',
      () => view({ duration: `${'9'.repeat(400)}h` }),
      400,
      /must be a Go duration/,
      'spec.duration',
    ],
    [
      'a duration of 1ms, below limits.minDuration (1s in the test config)',
      () => view({ duration: '1ms' }),
      403,
      /below the minimum 1s \(limits.minDuration\)/,
      'spec.duration',
    ],
    [
      // The matching policy's 8h is the tighter bound (a policy may only narrow limits.maxDuration).
      'a duration above limits.maxDuration',
      () => view({ duration: '169h' }),
      403,
      /duration 169h exceeds the maximum 8h of policy view-auto/,
      'spec.duration',
    ],
    [
      'a namespace name over 63 characters',
      () => view({ namespace: 'a'.repeat(64), duration: '5m' }),
      400,
      /63/,
      'spec.namespace',
    ],
    [
      'a namespace that is no DNS label',
      () => view({ namespace: 'Bad_NS', duration: '5m' }),
      400,
      /DNS-1123/,
      'spec.namespace',
    ],
    [
      'a role name with a slash',
      () => view({ role: 'view/../admin', duration: '5m' }),
      400,
      /role name/,
      'spec.role',
    ],
    ['a role named ..', () => view({ role: '..', duration: '5m' }), 400, /role name/, 'spec.role'],
    [
      'a NUL in the reason',
      () => view({ duration: '5m', reason: 'fix\u0000it' }),
      400,
      /control characters/,
      'spec.reason',
    ],
    [
      'an ESC in the reason',
      () => view({ duration: '5m', reason: '\u001b[31mred' }),
      400,
      /control characters/,
      'spec.reason',
    ],
    [
      'a C1 control in the reason',
      () => view({ duration: '5m', reason: 'a\u0085b' }),
      400,
      /control characters/,
      'spec.reason',
    ],
    [
      'a newline in the reason',
      () => view({ duration: '5m', reason: 'line\nbreak' }),
      400,
      /control characters/,
      'spec.reason',
    ],
    [
      'a bidi override in the reason',
      () => view({ duration: '5m', reason: 'abc\u202edcba' }),
      400,
      /bidi/,
      'spec.reason',
    ],
    [
      'a bidi isolate in the ticket',
      () => view({ duration: '5m', ticket: 'INC\u2066-1' }),
      400,
      /bidi/,
      'spec.ticket',
    ],
    [
      'a lone surrogate in the ticket',
      () => view({ duration: '5m', ticket: 'INC-\ud800' }),
      400,
      /Unicode/,
      'spec.ticket',
    ],
  ];

  it.each(cases)('%s', (_what, body, status, detail, field) =>
    expectCreateRefused(server, body(), { status, detail, field }),
  );

  it('a duration of the floor itself is granted', async () => {
    const res = await server.as('alice').post('/api/v1/accessrequests', view({ duration: '1s' }));
    expect(res.status).toBe(201);
    expect(res.body.spec.duration).toBe('1s');
  });

  it('control characters in an approval comment or a revocation reason are refused, naming the field', async () => {
    const created = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'edit', namespace: ns, duration: '5m' }));
    expect(created.status).toBe(201);
    const name = created.body.metadata.name;
    const approve = await server
      .as('bob')
      .post(`/api/v1/accessrequests/${name}/approve`, { comment: 'ok\u001b]0;pwned\u0007' });
    expect(approve.status).toBe(400);
    expect(approve.body.field).toBe('comment');
    const revoke = await server
      .as('alice')
      .post(`/api/v1/accessrequests/${name}/revoke`, { reason: 'done\u202e' });
    expect(revoke.status).toBe(400);
    expect(revoke.body.field).toBe('reason');
    expect((await server.as('alice').get(`/api/v1/accessrequests/${name}`)).body.status.approvals).toEqual(
      [],
    );
  });
});

describe('approve, deny, cancel and revoke take an optional body', () => {
  async function pending(): Promise<string> {
    const res = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'edit', namespace: ns, duration: '5m' }));
    expect(res.status).toBe(201);
    return res.body.metadata.name;
  }
  // No body and no Content-Type at all, as `curl -X POST URL` sends.
  const bare = (person: 'alice' | 'bob', path: string) => server.as(person).raw(path, { method: 'POST' });

  it.each([
    ['approve', 'bob', 'Pending'],
    ['deny', 'bob', 'Denied'],
    ['cancel', 'alice', 'Canceled'],
  ] as const)('a bare POST …/%s is accepted', async (action, person, phase) => {
    const name = await pending();
    const res = await bare(person, `/api/v1/accessrequests/${name}/${action}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status.phase).toBe(phase);
  });

  it('a bare POST …/revoke is accepted, and so is an empty application/json body', async () => {
    const granted = await server.as('alice').post('/api/v1/accessrequests', view({ duration: '5m' }));
    expect(granted.status).toBe(201);
    const name = granted.body.metadata.name;
    const res = await bare('alice', `/api/v1/accessrequests/${name}/revoke`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status.revocation.by).toBe('alice');
    const empty = await server.as('alice').raw(`/api/v1/accessrequests/${await pending()}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(empty.status, JSON.stringify(empty.body)).toBe(200);
  });
});
