import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdpInfo } from '../../src/testenv/idp/idp-info.js';
import { startIdp, stopIdp } from '../../src/testenv/idp/idp-process.js';
import { fetchIdToken } from '../../src/testenv/idp/idp-sign-in.js';
import { apiFor } from '../support/elevate.js';
import { type OidcElevate, startOidcElevate } from '../support/oidc-elevate.js';

/**
 * An ID token the real provider issued runs out: a provider of its own with 3-second ID tokens, and an
 * Elevate tolerating one second of clock difference, so the test waits seconds, not the shared provider's
 * ten minutes.
 */
describe('an expired ID token from the real provider', () => {
  let dir: string;
  let info: IdpInfo;
  let elevate: OidcElevate;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'elevate-oidc-expiry-'));
    info = await startIdp({ dir, idTokenTtlSeconds: 3 });
    elevate = await startOidcElevate({ idp: info, oidc: 'clockSkew: 1s' });
    url = elevate.url;
  });

  afterAll(async () => {
    await elevate?.stop();
    if (dir) await stopIdp({ dir });
  });

  it('is accepted while valid and refused with a clear 401 once expired (clock skew included)', async () => {
    const { idToken } = await fetchIdToken({ dir, user: 'carol' });
    const exp = decodeJwt(idToken).exp ?? 0;
    expect(exp - (decodeJwt(idToken).iat ?? 0)).toBe(3);
    const valid = await apiFor(url, idToken).get('/api/v1/whoami');
    expect(valid.status).toBe(200);
    expect(valid.body.user).toBe('carol@example.com');

    // Past exp plus the one second of tolerated skew (and a little for the clocks' rounding).
    const wait = (exp + 1) * 1000 - Date.now() + 300;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const expired = await apiFor(url, idToken).get('/api/v1/whoami');
    expect(expired.status).toBe(401);
    expect(expired.contentType).toMatch(/^application\/problem\+json/);
    expect(expired.body.detail).toBe('the token has expired');
    expect(JSON.stringify(expired.body)).not.toContain(idToken);
  });
});
