import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { b64, now, signingKey, useLocalIssuer } from '../support/local-oidc-issuer.js';

describe('OIDC authenticator: which tokens, and why one is refused', () => {
  const f = useLocalIssuer();

  it("accepts the issuer's ID token: the email is the user, groups prefixed, source oidc", async () => {
    f.idp.state.published = [f.key.jwk];
    const auth = await f.authenticator();
    expect(await auth.authenticate(await f.token())).toEqual({
      identity: {
        user: 'alice@example.com',
        groups: ['idp:devs'],
        source: { kind: 'oidc', issuer: f.idp.issuer },
      },
    });
    expect(auth.degraded?.()).toBeNull();
  });

  it("leaves what is not a JWT of this issuer to the next source (another issuer's, opaque ones)", async () => {
    const auth = await f.authenticator();
    expect(await auth.authenticate('token-alice')).toBeNull();
    expect(await auth.authenticate('a.b.c')).toBeNull();
    expect(await auth.authenticate(await f.token({ iss: 'https://other.example.com' }))).toBeNull();
    expect(await auth.authenticate(await f.token({ iss: `${f.idp.issuer}/` }))).toBeNull();
  });

  it('refuses every bad token with a reason that names the fault and not the token', async () => {
    const auth = await f.authenticator();
    const foreign = await signingKey('not-published');
    const sameKidForeign = await signingKey('k1');
    const good = await f.token();
    const [h, p] = good.split('.');
    const tamperedPayload = b64({
      ...JSON.parse(Buffer.from(p as string, 'base64url').toString()),
      email: 'root@example.com',
    });
    const hs256 = await new SignJWT({ iss: f.idp.issuer, aud: 'elevate', email: 'a@b', exp: now() + 60 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!'));
    const cases: [string, string][] = [
      [await f.token({ exp: now() - 120 }), 'the token has expired'],
      [await f.token({ nbf: now() + 120 }), 'the token is not valid yet'],
      [await f.token({ aud: 'other-app' }), 'the token was issued for another audience'],
      [await f.token({ exp: undefined }), 'the token has no expiry (exp)'],
      [
        `${b64({ alg: 'none' })}.${b64({ iss: f.idp.issuer, aud: 'elevate', email: 'a@b' })}.`,
        'unsigned tokens (alg none) are not accepted',
      ],
      [
        `${b64({ alg: 'NONE' })}.${b64({ iss: f.idp.issuer, aud: 'elevate' })}.x`,
        'unsigned tokens (alg none) are not accepted',
      ],
      [hs256, "tokens signed with HS256 are not accepted; the issuer's keys sign them"],
      [`${h}.${tamperedPayload}.${good.split('.')[2]}`, "the token's signature does not verify"],
      [await f.token({}, foreign), 'the token is signed by a key the issuer does not publish'],
      [await f.token({}, sameKidForeign), "the token's signature does not verify"],
      [
        `${b64({ alg: 'RS256', kid: 'k1' })}.${b64({ iss: f.idp.issuer })}.%%%`,
        'the token is not a well-formed JWT',
      ],
      [await f.token({ email_verified: false }), 'the token says its email is not verified'],
    ];
    for (const [bad, reason] of cases) {
      expect({ reason, outcome: await auth.authenticate(bad) }).toEqual({
        reason,
        outcome: { refused: reason },
      });
    }
  });

  it('tolerates the configured clock skew on exp and nbf, not more', async () => {
    const auth = await f.authenticator({}, f.config({ clockSkewMs: 60_000 }));
    expect(await auth.authenticate(await f.token({ exp: now() - 30 }))).toHaveProperty('identity');
    expect(await auth.authenticate(await f.token({ nbf: now() + 30 }))).toHaveProperty('identity');
    expect(await auth.authenticate(await f.token({ exp: now() - 90 }))).toEqual({
      refused: 'the token has expired',
    });
  });

  it('applies required claims and the username claim from config', async () => {
    const auth = await f.authenticator(
      {},
      f.config({ usernameClaim: 'sub', usernamePrefix: 'oidc:', requiredClaims: { hd: 'example.com' } }),
    );
    expect(await auth.authenticate(await f.token({ hd: 'example.com' }))).toMatchObject({
      identity: { user: 'oidc:u-alice' },
    });
    expect(await auth.authenticate(await f.token())).toEqual({ refused: 'claim hd must be example.com' });
  });
});
