import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateIdpKeys, startIdp, stopIdp } from '../../src/testenv/idp/idp-process.js';
import { type Api, apiFor, requestBody, testPolicies } from '../support/elevate.js';
import { idpDir, idpInfo, idToken, whoAmI } from '../support/idp.js';
import { createNamespace, testKubeconfig, uniqueName } from '../support/kube.js';
import { type OidcElevate, startOidcElevate } from '../support/oidc-elevate.js';
import { eventually } from '../support/policy-config.js';

/**
 * An Elevate server trusting the testenv's real OpenID provider (the one both testenv API servers trust),
 * judged with ID tokens obtained through the provider's own sign-in.
 */
describe('OIDC sign-in against the testenv provider', () => {
  let elevate: OidcElevate;
  let url: string;
  const as = (token: string): Api => apiFor(url, token);

  beforeAll(async () => {
    const info = idpInfo();
    elevate = await startOidcElevate({
      idp: info,
      // The test sends refused tokens on purpose, and polls with some.
      auth: ['admins: { groups: [platform-admins] }', 'throttle: { maxFailures: 100000 }'],
      rest: `limits:
  minDuration: 1s
${testPolicies}`,
    });
    url = elevate.url;
  });
  afterAll(async () => {
    await elevate?.stop();
  });

  it("accepts alice's ID token: the user is her email, her groups, the source oidc", async () => {
    const res = await as(await idToken('alice')).get('/api/v1/whoami');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      user: 'alice@example.com',
      groups: ['devs'],
      admin: false,
      source: { kind: 'oidc', issuer: idpInfo().issuer },
    });
  });

  it("binds her in the cluster under the name the cluster's API server gives the same token", async () => {
    const token = await idToken('alice');
    const ns = uniqueName('oidc');
    await createNamespace(testKubeconfig('dev'), ns);
    const res = await as(token).post(
      '/api/v1/accessrequests',
      requestBody({ role: 'view', namespace: ns, duration: '5m' }),
    );
    expect(res.body.status?.phase, JSON.stringify(res.body)).toBe('Active');
    const { username } = await whoAmI(token, 'dev');
    expect(res.body.spec.subjects.dev).toEqual({ kind: 'User', name: username });
    expect(username).toBe('oidc:alice@example.com');
    expect(res.body.spec.requesterSource).toBe('oidc');
  });

  it('picks up a key rotation at the provider without a restart', async () => {
    const before = await idToken('alice');
    expect((await as(before).get('/api/v1/whoami')).status).toBe(200);
    const kid = await rotateIdpKeys({ dir: idpDir() });
    const after = await idToken('alice');
    expect(JSON.parse(Buffer.from(after.split('.')[0] as string, 'base64url').toString()).kid).toBe(kid);
    // Signed by a key Elevate has not seen: the keys are fetched again at once (this test runs before the
    // foreign-key tokens below start the refetch cooldown).
    await eventually(async () => (await as(after).get('/api/v1/whoami')).body.user === 'alice@example.com');
    expect((await as(before).get('/api/v1/whoami')).status).toBe(200);
  });

  it('says how to sign in, without a token', async () => {
    const info = idpInfo();
    const res = await apiFor(url, null).get('/api/v1/auth/config');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      oidc: {
        issuer: info.issuer,
        clientId: info.clientId,
        scopes: expect.arrayContaining(['openid', 'groups']),
      },
      sources: ['api-token', 'oidc'],
    });
  });

  it('refuses the wrong audience, tampered, unsigned and foreign-key tokens: 401 problems saying why', async () => {
    const info = idpInfo();
    const good = await idToken('alice');
    const [header, payload, signature] = good.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const kid = JSON.parse(Buffer.from(header, 'base64url').toString()).kid;
    const foreign = await generateKeyPair('RS256');
    const cases: [string, string][] = [
      [await idToken('alice', { clientId: info.otherClientId }), 'the token was issued for another audience'],
      [
        `${header}.${b64({ ...claims, email: 'admin@example.com', groups: ['platform-admins'] })}.${signature}`,
        "the token's signature does not verify",
      ],
      [`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`, 'unsigned tokens (alg none) are not accepted'],
      [
        await new SignJWT(claims)
          .setProtectedHeader({ alg: 'RS256', kid: 'not-the-providers' })
          .sign(foreign.privateKey),
        'the token is signed by a key the issuer does not publish',
      ],
      [
        await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(foreign.privateKey),
        "the token's signature does not verify",
      ],
      [
        await new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) - 3600 })
          .setProtectedHeader({ alg: 'RS256', kid })
          .sign(foreign.privateKey),
        "the token's signature does not verify",
      ],
    ];
    for (const [bad, detail] of cases) {
      const res = await as(bad).get('/api/v1/whoami');
      expect({ status: res.status, type: res.contentType, detail: res.body.detail }).toEqual({
        status: 401,
        type: expect.stringContaining('application/problem+json'),
        detail,
      });
      expect(JSON.stringify(res.body)).not.toMatch(/stack|at .*\.ts/);
    }
    // Another issuer's JWT is not this source's: no source knows it, and the answer says whose it is not.
    const otherIssuer = await new SignJWT({ ...claims, iss: 'https://elsewhere.example.com' })
      .setProtectedHeader({ alg: 'RS256' })
      .sign(foreign.privateKey);
    expect((await as(otherIssuer).get('/api/v1/whoami')).body.detail).toBe(
      'the token was issued by an issuer this server does not trust',
    );
    expect((await as('not-a-jwt').get('/api/v1/whoami')).body.detail).toBe('the bearer token is not valid');
  });

  it('keeps validating with the last keys while the provider is down, and /readyz says so', async () => {
    const token = await idToken('bob');
    const ready = () => apiFor(url, null).get('/readyz');
    expect((await ready()).body.detail).toBeUndefined();
    await stopIdp({ dir: idpDir() });
    try {
      // A token naming an unknown key makes Elevate try the provider, which is down.
      const foreign = await generateKeyPair('RS256');
      const claims = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString());
      const stranger = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'unknown' })
        .sign(foreign.privateKey);
      await eventually(
        async () => (await as(stranger).get('/api/v1/whoami')).status === 401 && (await ready()).body.detail,
      );
      const res = await ready();
      expect(res.status).toBe(200);
      expect(res.body.detail).toMatch(
        new RegExp(
          `^oidc: issuer ${idpInfo().issuer} unreachable since \\S+ \\(.+\\); validating with keys fetched at \\S+$`,
        ),
      );
      expect((await as(token).get('/api/v1/whoami')).body.user).toBe('bob@example.com');
    } finally {
      await startIdp({ dir: idpDir() });
    }
    // Back: the next unknown key makes Elevate fetch again, which succeeds.
    await rotateIdpKeys({ dir: idpDir() });
    const fresh = await idToken('bob');
    await eventually(async () => (await as(fresh).get('/api/v1/whoami')).status === 200);
    expect((await ready()).body.detail).toBeUndefined();
  });
});
