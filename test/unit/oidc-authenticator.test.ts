import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createOidcAuthenticator,
  type OidcAuthenticator,
} from '../../src/adapters/auth/oidc-authenticator.js';
import { createOidcKeys, type OidcKeysOptions } from '../../src/adapters/auth/oidc-keys.js';
import type { OidcConfig } from '../../src/config/load-config.js';
import { createClusterPki } from '../../src/testenv/cluster-pki.js';

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string, alg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/**
 * A minimal issuer over real HTTPS (a certificate of the testenv PKI): the discovery document and the
 * JWKS, with the published keys, the availability and the discovery's issuer under the test's control.
 */
async function startIssuer() {
  const dir = await mkdtemp(join(tmpdir(), 'elevate-oidc-'));
  const pki = await createClusterPki(dir, 'oidc');
  const state = { published: [] as JWK[], fetches: 0, discoveryIssuer: null as string | null };
  let issuer = '';
  const server: Server = createServer(
    { cert: readFileSync(pki.apiserverCert), key: readFileSync(pki.apiserverKey) },
    (req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration') {
        res.end(JSON.stringify({ issuer: state.discoveryIssuer ?? issuer, jwks_uri: `${issuer}/jwks` }));
      } else if (req.url === '/jwks') {
        state.fetches++;
        res.end(JSON.stringify({ keys: state.published }));
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  issuer = `https://127.0.0.1:${port}`;
  return {
    issuer,
    ca: readFileSync(pki.caCert),
    state,
    async down() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async up() {
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
  };
}

type Issuer = Awaited<ReturnType<typeof startIssuer>>;

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('OIDC authenticator', () => {
  let idp: Issuer;
  let key: SigningKey;
  const logs: { level: number; msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const running: OidcAuthenticator[] = [];

  beforeAll(async () => {
    idp = await startIssuer();
    key = await signingKey('k1');
  });
  afterEach(async () => {
    for (const a of running.splice(0)) a.stop();
    idp.state.published = [key.jwk];
    idp.state.discoveryIssuer = null;
    logs.length = 0;
  });
  afterAll(() => idp.down());

  const config = (over: Partial<OidcConfig> = {}): OidcConfig => ({
    issuer: idp.issuer,
    clientId: 'elevate',
    caFile: null,
    usernameClaim: 'email',
    usernamePrefix: '',
    groupsClaim: 'groups',
    groupsPrefix: 'idp:',
    requiredClaims: {},
    scopes: ['openid'],
    clockSkewMs: 30_000,
    ...over,
  });

  /** An authenticator whose keys have been fetched once (unless the issuer is down). */
  async function authenticator(over: Partial<OidcKeysOptions> = {}, conf = config()) {
    const keys = createOidcKeys({
      issuer: idp.issuer,
      ca: idp.ca,
      log,
      unknownKeyCooldownMs: 0,
      retryEveryMs: 60_000,
      ...over,
    });
    const auth = createOidcAuthenticator(conf, keys);
    running.push(auth);
    await keys.start();
    return auth;
  }

  const now = () => Math.floor(Date.now() / 1000);
  function token(claims: JWTPayload = {}, k: SigningKey = key, header: Record<string, unknown> = {}) {
    return new SignJWT({
      iss: idp.issuer,
      aud: 'elevate',
      sub: 'u-alice',
      email: 'alice@example.com',
      email_verified: true,
      groups: ['devs'],
      iat: now(),
      exp: now() + 300,
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: k.kid, ...header })
      .sign(k.privateKey);
  }

  it("accepts the issuer's ID token: the email is the user, groups prefixed, source oidc", async () => {
    idp.state.published = [key.jwk];
    const auth = await authenticator();
    expect(await auth.authenticate(await token())).toEqual({
      identity: {
        user: 'alice@example.com',
        groups: ['idp:devs'],
        source: { kind: 'oidc', issuer: idp.issuer },
      },
    });
    expect(auth.degraded?.()).toBeNull();
  });

  it("leaves what is not a JWT of this issuer to the next source (another issuer's, opaque ones)", async () => {
    const auth = await authenticator();
    expect(await auth.authenticate('token-alice')).toBeNull();
    expect(await auth.authenticate('a.b.c')).toBeNull();
    expect(await auth.authenticate(await token({ iss: 'https://other.example.com' }))).toBeNull();
    expect(await auth.authenticate(await token({ iss: `${idp.issuer}/` }))).toBeNull();
  });

  it('refuses every bad token with a reason that names the fault and not the token', async () => {
    const auth = await authenticator();
    const foreign = await signingKey('not-published');
    const sameKidForeign = await signingKey('k1');
    const good = await token();
    const [h, p] = good.split('.');
    const tamperedPayload = b64({
      ...JSON.parse(Buffer.from(p as string, 'base64url').toString()),
      email: 'root@example.com',
    });
    const hs256 = await new SignJWT({ iss: idp.issuer, aud: 'elevate', email: 'a@b', exp: now() + 60 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!'));
    const cases: [string, string][] = [
      [await token({ exp: now() - 120 }), 'the token has expired'],
      [await token({ nbf: now() + 120 }), 'the token is not valid yet'],
      [await token({ aud: 'other-app' }), 'the token was issued for another audience'],
      [await token({ exp: undefined }), 'the token has no expiry (exp)'],
      [
        `${b64({ alg: 'none' })}.${b64({ iss: idp.issuer, aud: 'elevate', email: 'a@b' })}.`,
        'unsigned tokens (alg none) are not accepted',
      ],
      [
        `${b64({ alg: 'NONE' })}.${b64({ iss: idp.issuer, aud: 'elevate' })}.x`,
        'unsigned tokens (alg none) are not accepted',
      ],
      [hs256, "tokens signed with HS256 are not accepted; the issuer's keys sign them"],
      [`${h}.${tamperedPayload}.${good.split('.')[2]}`, "the token's signature does not verify"],
      [await token({}, foreign), 'the token is signed by a key the issuer does not publish'],
      [await token({}, sameKidForeign), "the token's signature does not verify"],
      [
        `${b64({ alg: 'RS256', kid: 'k1' })}.${b64({ iss: idp.issuer })}.%%%`,
        'the token is not a well-formed JWT',
      ],
      [await token({ email_verified: false }), 'the token says its email is not verified'],
    ];
    for (const [bad, reason] of cases) {
      expect({ reason, outcome: await auth.authenticate(bad) }).toEqual({
        reason,
        outcome: { refused: reason },
      });
    }
  });

  it('tolerates the configured clock skew on exp and nbf, not more', async () => {
    const auth = await authenticator({}, config({ clockSkewMs: 60_000 }));
    expect(await auth.authenticate(await token({ exp: now() - 30 }))).toHaveProperty('identity');
    expect(await auth.authenticate(await token({ nbf: now() + 30 }))).toHaveProperty('identity');
    expect(await auth.authenticate(await token({ exp: now() - 90 }))).toEqual({
      refused: 'the token has expired',
    });
  });

  it('applies required claims and the username claim from config', async () => {
    const auth = await authenticator(
      {},
      config({ usernameClaim: 'sub', usernamePrefix: 'oidc:', requiredClaims: { hd: 'example.com' } }),
    );
    expect(await auth.authenticate(await token({ hd: 'example.com' }))).toMatchObject({
      identity: { user: 'oidc:u-alice' },
    });
    expect(await auth.authenticate(await token())).toEqual({ refused: 'claim hd must be example.com' });
  });

  it('picks up a rotated key without a restart, and drops a key the issuer no longer publishes', async () => {
    const auth = await authenticator();
    const oldToken = await token();
    const next = await signingKey('k2');
    idp.state.published = [next.jwk];
    // The token names a key not seen before: the keys are fetched again at once.
    expect(await auth.authenticate(await token({}, next))).toMatchObject({
      identity: { user: 'alice@example.com' },
    });
    expect(await auth.authenticate(oldToken)).toEqual({
      refused: 'the token is signed by a key the issuer does not publish',
    });
    expect(logs.filter((l) => l.msg === 'oidc: signing keys loaded').map((l) => l.kids)).toEqual([
      'k1',
      'k2',
    ]);
  });

  it('fetches again for an unknown key at most once per cooldown', async () => {
    const auth = await authenticator({ unknownKeyCooldownMs: 3_600_000 });
    const before = idp.state.fetches;
    const stranger = await signingKey('made-up');
    for (let i = 0; i < 5; i++) {
      expect(await auth.authenticate(await token({}, stranger))).toEqual({
        refused: 'the token is signed by a key the issuer does not publish',
      });
    }
    expect(idp.state.fetches - before).toBe(1);
  });

  it('keeps validating with the last keys while the issuer is down, says so, and recovers', async () => {
    const auth = await authenticator({ retryEveryMs: 3_600_000 });
    const keys = () => auth.degraded?.();
    await idp.down();
    try {
      // A token naming an unknown key makes it try the issuer, which fails; the known key still works.
      const stranger = await signingKey('made-up');
      expect(await auth.authenticate(await token({}, stranger))).toEqual({
        refused: 'the token is signed by a key the issuer does not publish',
      });
      expect(await auth.authenticate(await token({}, stranger))).toHaveProperty('refused');
      expect(await auth.authenticate(await token())).toMatchObject({
        identity: { user: 'alice@example.com' },
      });
      expect(keys()).toMatch(
        new RegExp(
          `^oidc: issuer ${idp.issuer} unreachable since \\S+Z \\(.*ECONNREFUSED.*\\); validating with keys fetched at \\S+Z$`,
        ),
      );
      const warnings = logs.filter((l) => l.level === 40);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.msg).toMatch(
        /^oidc: cannot fetch the issuer's keys; validating with the keys fetched at /,
      );
    } finally {
      await idp.up();
    }
    const next = await signingKey('k3');
    idp.state.published = [key.jwk, next.jwk];
    expect(await auth.authenticate(await token({}, next))).toHaveProperty('identity');
    expect(keys()).toBeNull();
    expect(logs.filter((l) => l.level === 30).map((l) => l.msg)).toContain(
      'oidc: the issuer answers again; its keys are current',
    );
  });

  it('starts while the issuer is down, refuses its tokens until the first keys, then accepts them', async () => {
    await idp.down();
    let auth: OidcAuthenticator;
    try {
      auth = await authenticator({ retryEveryMs: 3_600_000 });
      expect(await auth.authenticate(await token())).toEqual({
        refused: "cannot verify: the issuer's keys are not available yet",
      });
      expect(auth.degraded?.()).toMatch(/unreachable since .*; no keys yet, its tokens are refused$/);
    } finally {
      await idp.up();
    }
    expect(await auth.authenticate(await token())).toHaveProperty('identity');
    expect(auth.degraded?.()).toBeNull();
  });

  it('trusts only the configured CA, and only a discovery document naming the same issuer', async () => {
    const untrusted = createOidcKeys({ issuer: idp.issuer, ca: null, log });
    expect(await untrusted.refresh()).toBe(false);
    expect(untrusted.degraded()).toMatch(/certificate/);
    idp.state.discoveryIssuer = 'https://evil.example.com';
    const misnamed = createOidcKeys({ issuer: idp.issuer, ca: idp.ca, log });
    expect(await misnamed.refresh()).toBe(false);
    expect(misnamed.degraded()).toContain('names the issuer https://evil.example.com, not');
  });

  it('never logs a token', async () => {
    const auth = await authenticator();
    const t = await token({ exp: now() - 600 });
    await auth.authenticate(t);
    await idp.down();
    await auth.authenticate(await token({}, await signingKey('x')));
    await idp.up();
    expect(JSON.stringify(logs)).not.toContain(t.split('.')[1]);
  });
});
