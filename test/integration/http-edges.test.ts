import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/composition-root.js';
import { apiFor, type RunningElevate, startElevate } from '../support/elevate.js';
import { elevateKubeconfig } from '../support/kube.js';

/** The framework's own errors and the HTTP edges: all problem+json, none repeating input at length. */

let server: RunningElevate;
let logs = '';

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs += chunk.toString();
      done();
    },
  });
  server = await startElevate({ clusters: { dev: elevateKubeconfig('dev') } }, createLogger('info', sink));
});

afterAll(async () => {
  await server?.stop();
});

/** Sends raw bytes: fetch refuses unknown methods and would not send what these tests need. */
function rawHttp(text: string): Promise<string> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(text));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

function expectShortProblem(res: { status: number; contentType: string; body: unknown }, status: number) {
  expect(res.status).toBe(status);
  expect(res.contentType).toContain('application/problem+json');
  expect(res.body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
  expect(JSON.stringify(res.body).length).toBeLessThan(400);
}

describe('framework errors are problems', () => {
  it('an id longer than any path parameter may be is a short 400, not an echo of the URL', async () => {
    const res = await server.as('alice').get(`/api/v1/accessrequests/ar-${'x'.repeat(300)}`);
    expectShortProblem(res, 400);
    expect(JSON.stringify(res.body)).not.toContain('xxxxxxxxxx');
  });

  it('an id that is no request name is a 400 naming it', async () => {
    const res = await server.as('alice').get('/api/v1/accessrequests/Robert%27);DROP');
    expectShortProblem(res, 400);
    expect(res.body.field).toBe('params.name');
  });

  it('bad percent-encoding in the path is a 400 problem', async () => {
    expectShortProblem(await server.as('alice').get('/api/v1/accessrequests/%C0%AE'), 400);
  });

  it('an unknown method is a problem, not {"message":"Client Error"}', async () => {
    const answer = await rawHttp(`FOO /api/v1/accessrequests HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 501 /);
    expect(answer).toContain('Content-Type: application/problem+json');
    expect(answer).toContain('"status":501');
  });

  it('a wrong method on a known path is 405 with Allow, before authentication', async () => {
    const res = await apiFor(server.url, null).raw('/api/v1/accessrequests', { method: 'DELETE' });
    expectShortProblem(res, 405);
    const allow = await fetch(`${server.url}/api/v1/accessrequests/ar-abc/approve`, { method: 'PUT' });
    expect(allow.status).toBe(405);
    expect(allow.headers.get('allow')).toBe('POST');
    const query = await fetch(`${server.url}/api/v1/whoami`, { method: 'PATCH', body: 'x' });
    expect(query.status).toBe(405);
    expect(query.headers.get('allow')).toBe('GET, HEAD');
  });

  it('an unknown route is 404 without repeating a long URL', async () => {
    const res = await server.as('alice').get(`/api/v1/${'y'.repeat(5000)}?q=${'z'.repeat(100)}`);
    expectShortProblem(res, 404);
    expect(JSON.stringify(res.body)).not.toContain('z');
  });
});

describe('bodies and headers', () => {
  it('only UTF-8 JSON: charset=utf-16 and text/plain are 415', async () => {
    for (const contentType of [
      'application/json; charset=utf-16',
      'application/json;charset="latin1"',
      'text/plain',
    ]) {
      const res = await server.as('alice').raw('/api/v1/accessrequests', {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: '{}',
      });
      expectShortProblem(res, 415);
    }
    const utf8 = await server.as('alice').raw('/api/v1/accessrequests', {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=UTF-8' },
      body: '{}',
    });
    expect(utf8.status).toBe(400);
  });

  it('malformed JSON is a 400 that does not quote the body', async () => {
    const res = await server.as('alice').raw('/api/v1/accessrequests', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // JSON.parse's message would quote this: "Unexpected token 'q', "{"spec": qqqqqqqqqq"... is not valid JSON"
      body: `{"spec": ${'q'.repeat(1000)}}`,
    });
    expectShortProblem(res, 400);
    expect(JSON.stringify(res.body)).not.toContain('qqqq');
  });

  it('several Authorization headers are refused (400), whichever comes first', async () => {
    // Node keeps only the first of several Authorization headers in req.headers.
    for (const [first, second] of [
      ['token-alice', 'nope'],
      ['nope', 'token-alice'],
    ]) {
      const answer = await rawHttp(
        'GET /api/v1/whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
          `Authorization: Bearer ${first}\r\nAuthorization: Bearer ${second}\r\n\r\n`,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('application/problem+json');
      expect(answer).toContain('"field":"Authorization"');
    }
  });

  it('request logs leave out the query string: a token put there never reaches a log', async () => {
    const secret = 'query-secret-token-98765';
    await server.as('alice').get(`/api/v1/accessrequests?access_token=${secret}`);
    await apiFor(server.url, null).get(`/api/v1/whoami?token=${secret}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(logs).toContain('/api/v1/accessrequests?[redacted]');
    expect(logs.includes(secret)).toBe(false);
  });
});
