import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import {
  createOidcAuthenticator,
  type OidcAuthenticator,
} from '../../src/adapters/auth/oidc-authenticator.js';
import { createOidcKeys, type OidcKeysOptions } from '../../src/adapters/auth/oidc-keys.js';
import type { OidcConfig } from '../../src/config/load-config.js';
import { createClusterPki } from '../../src/testenv/cluster-pki.js';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function signingKey(kid: string, alg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/**
 * A minimal issuer over real HTTPS (a certificate of the testenv PKI): the discovery document and the
 * JWKS, with the published keys, the availability and the discovery's issuer under the test's control.
 */
export async function startIssuer() {
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

export type Issuer = Awaited<ReturnType<typeof startIssuer>>;

export const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/**
 * For a describe block: a local issuer publishing key k1, authenticators over it (stopped after each
 * test), ID tokens for alice signed by any key, and the log lines the keys wrote.
 */
export function useLocalIssuer() {
  const logs: { level: number; msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const f = {
    idp: undefined as unknown as Issuer,
    key: undefined as unknown as SigningKey,
    logs,
    /** A real pino logger writing into logs. */
    log,
    config,
    authenticator,
    token,
  };
  const running: OidcAuthenticator[] = [];

  beforeAll(async () => {
    f.idp = await startIssuer();
    f.key = await signingKey('k1');
    f.idp.state.published = [f.key.jwk];
  });
  afterEach(async () => {
    for (const a of running.splice(0)) a.stop();
    f.idp.state.published = [f.key.jwk];
    f.idp.state.discoveryIssuer = null;
    f.logs.length = 0;
  });
  afterAll(() => f.idp.down());

  function config(over: Partial<OidcConfig> = {}): OidcConfig {
    return {
      issuer: f.idp.issuer,
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
    };
  }

  /** An authenticator whose keys have been fetched once (unless the issuer is down). */
  async function authenticator(over: Partial<OidcKeysOptions> = {}, conf = config()) {
    const keys = createOidcKeys({
      issuer: f.idp.issuer,
      ca: f.idp.ca,
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

  function token(claims: JWTPayload = {}, k: SigningKey = f.key, header: Record<string, unknown> = {}) {
    return new SignJWT({
      iss: f.idp.issuer,
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

  return f;
}

export const now = () => Math.floor(Date.now() / 1000);
