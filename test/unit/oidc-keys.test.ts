import { describe, expect, it } from 'vitest';
import type { OidcAuthenticator } from '../../src/adapters/auth/oidc-authenticator.js';
import { createOidcKeys } from '../../src/adapters/auth/oidc-keys.js';
import { now, signingKey, useLocalIssuer } from '../support/local-oidc-issuer.js';

describe('OIDC keys: rotation, an issuer that is down, what is trusted', () => {
  const f = useLocalIssuer();

  it('picks up a rotated key without a restart, and drops a key the issuer no longer publishes', async () => {
    const auth = await f.authenticator();
    const oldToken = await f.token();
    const next = await signingKey('k2');
    f.idp.state.published = [next.jwk];
    // The token names a key not seen before: the keys are fetched again at once.
    expect(await auth.authenticate(await f.token({}, next))).toMatchObject({
      identity: { user: 'alice@example.com' },
    });
    expect(await auth.authenticate(oldToken)).toEqual({
      refused: 'the token is signed by a key the issuer does not publish',
    });
    expect(f.logs.filter((l) => l.msg === 'oidc: signing keys loaded').map((l) => l.kids)).toEqual([
      'k1',
      'k2',
    ]);
  });

  it('fetches again for an unknown key at most once per cooldown', async () => {
    const auth = await f.authenticator({ unknownKeyCooldownMs: 3_600_000 });
    const before = f.idp.state.fetches;
    const stranger = await signingKey('made-up');
    for (let i = 0; i < 5; i++) {
      expect(await auth.authenticate(await f.token({}, stranger))).toEqual({
        refused: 'the token is signed by a key the issuer does not publish',
      });
    }
    expect(f.idp.state.fetches - before).toBe(1);
  });

  it('keeps validating with the last keys while the issuer is down, says so, and recovers', async () => {
    const auth = await f.authenticator({ retryEveryMs: 3_600_000 });
    const keys = () => auth.degraded?.();
    await f.idp.down();
    try {
      // A token naming an unknown key makes it try the issuer, which fails; the known key still works.
      const stranger = await signingKey('made-up');
      expect(await auth.authenticate(await f.token({}, stranger))).toEqual({
        refused: 'the token is signed by a key the issuer does not publish',
      });
      expect(await auth.authenticate(await f.token({}, stranger))).toHaveProperty('refused');
      expect(await auth.authenticate(await f.token())).toMatchObject({
        identity: { user: 'alice@example.com' },
      });
      expect(keys()).toMatch(
        new RegExp(
          `^oidc: issuer ${f.idp.issuer} unreachable since \\S+Z \\(.*ECONNREFUSED.*\\); validating with keys fetched at \\S+Z$`,
        ),
      );
      const warnings = f.logs.filter((l) => l.level === 40);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.msg).toMatch(
        /^oidc: cannot fetch the issuer's keys; validating with the keys fetched at /,
      );
    } finally {
      await f.idp.up();
    }
    const next = await signingKey('k3');
    f.idp.state.published = [f.key.jwk, next.jwk];
    expect(await auth.authenticate(await f.token({}, next))).toHaveProperty('identity');
    expect(keys()).toBeNull();
    expect(f.logs.filter((l) => l.level === 30).map((l) => l.msg)).toContain(
      'oidc: the issuer answers again; its keys are current',
    );
  });

  it('starts while the issuer is down, refuses its tokens until the first keys, then accepts them', async () => {
    await f.idp.down();
    let auth: OidcAuthenticator;
    try {
      auth = await f.authenticator({ retryEveryMs: 3_600_000 });
      expect(await auth.authenticate(await f.token())).toEqual({
        refused: "cannot verify: the issuer's keys are not available yet",
      });
      expect(auth.degraded?.()).toMatch(/unreachable since .*; no keys yet, its tokens are refused$/);
    } finally {
      await f.idp.up();
    }
    expect(await auth.authenticate(await f.token())).toHaveProperty('identity');
    expect(auth.degraded?.()).toBeNull();
  });

  it('trusts only the configured CA, and only a discovery document naming the same issuer', async () => {
    const untrusted = createOidcKeys({ issuer: f.idp.issuer, ca: null, log: f.log });
    expect(await untrusted.refresh()).toBe(false);
    expect(untrusted.degraded()).toMatch(/certificate/);
    f.idp.state.discoveryIssuer = 'https://evil.example.com';
    const misnamed = createOidcKeys({ issuer: f.idp.issuer, ca: f.idp.ca, log: f.log });
    expect(await misnamed.refresh()).toBe(false);
    expect(misnamed.degraded()).toContain('names the issuer https://evil.example.com, not');
  });

  it('never f.logs a token', async () => {
    const auth = await f.authenticator();
    const t = await f.token({ exp: now() - 600 });
    await auth.authenticate(t);
    await f.idp.down();
    await auth.authenticate(await f.token({}, await signingKey('x')));
    await f.idp.up();
    expect(JSON.stringify(f.logs)).not.toContain(t.split('.')[1]);
  });
});
