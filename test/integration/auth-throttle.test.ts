import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFor, type RunningElevate, startElevate } from '../support/elevate.js';
import { elevateKubeconfig } from '../support/kube.js';

let server: RunningElevate;

beforeAll(async () => {
  server = await startElevate({ clusters: { dev: elevateKubeconfig('dev') } });
});

afterAll(async () => {
  await server?.stop();
});

/** GET /api/v1/whoami from a chosen local address (the server listens on 127.0.0.1; all of 127/8 reaches it). */
function whoamiFrom(
  localAddress: string,
  token: string,
): Promise<{ status: number; retryAfter?: string; body: string }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: hostname,
      port,
      path: '/api/v1/whoami',
      localAddress,
      headers: { authorization: `Bearer ${token}` },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('failed authentication is throttled per client address', () => {
  it('after a burst of 401s an address gets 429 problem+json with Retry-After; other addresses do not', async () => {
    const guesser = '127.0.0.7';
    // The default budget is 20 failures per minute.
    for (let i = 0; i < 20; i++) {
      expect((await whoamiFrom(guesser, `guess-${i}`)).status).toBe(401);
    }
    const throttled = await whoamiFrom(guesser, 'guess-20');
    expect(throttled.status).toBe(429);
    expect(Number(throttled.retryAfter)).toBeGreaterThan(0);
    expect(Number(throttled.retryAfter)).toBeLessThanOrEqual(60);
    expect(JSON.parse(throttled.body)).toMatchObject({ status: 429, title: 'Too Many Requests' });

    // A right guess from the throttled address is refused too: otherwise 429 vs 200 would still tell a
    // guesser which guess was right.
    expect((await whoamiFrom(guesser, 'token-alice')).status).toBe(429);

    // Everyone else is unaffected, with a valid token or (still counted per address) without one.
    expect((await whoamiFrom('127.0.0.8', 'token-alice')).status).toBe(200);
    expect((await whoamiFrom('127.0.0.8', 'not-a-token')).status).toBe(401);
  });

  it('successful requests never count: a client with a valid token is never throttled', async () => {
    const api = apiFor(server.url, 'token-bob');
    for (let i = 0; i < 30; i++) {
      expect((await whoamiFrom('127.0.0.9', 'token-bob')).status).toBe(200);
    }
    expect((await api.get('/api/v1/whoami')).status).toBe(200);
  });
});
