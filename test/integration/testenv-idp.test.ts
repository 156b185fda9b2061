import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, inject, it } from 'vitest';
import { IdpBrowser, readForm } from '../../src/testenv/idp/idp-browser.js';
import { readIdpInfo } from '../../src/testenv/idp/idp-info.js';
import { idpRunning, rotateIdpKeys, startIdp, stopIdp } from '../../src/testenv/idp/idp-process.js';
import { fetchIdToken, signInWithDeviceCode } from '../../src/testenv/idp/idp-sign-in.js';
import { resolveKubeBinaries } from '../../src/testenv/kube-binaries.js';
import { testenvDown } from '../../src/testenv/testenv.js';
import {
  idpBrowser,
  idpDir,
  idpInfo,
  idToken,
  idTokens,
  kubeconfigWithToken,
  whoAmI,
} from '../support/idp.js';

const run = promisify(execFile);

const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString());
const header = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0] ?? '', 'base64url').toString());

describe('the testenv OpenID provider', () => {
  it('writes info.json with the issuer, its CA, both clients and the five users', () => {
    const info = idpInfo();
    expect(info.issuer).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(info.clientId).toBe('elevate');
    expect(info.otherClientId).toBe('other-app');
    expect(info.users.map((u) => [u.name, u.email, u.password, u.groups])).toEqual([
      ['alice', 'alice@example.com', 'alice-password', ['devs']],
      ['bob', 'bob@example.com', 'bob-password', ['sre-leads']],
      ['carol', 'carol@example.com', 'carol-password', ['devs']],
      ['dave', 'dave@example.com', 'dave-password', ['sre-leads']],
      ['admin', 'admin@example.com', 'admin-password', ['platform-admins']],
    ]);
  });

  it('issues RS256 ID tokens that carry email, email_verified and groups, with a refresh token', async () => {
    const tokens = await idTokens('alice');
    expect(header(tokens.idToken).alg).toBe('RS256');
    expect(claims(tokens.idToken)).toMatchObject({
      iss: idpInfo().issuer,
      aud: 'elevate',
      sub: 'alice',
      email: 'alice@example.com',
      email_verified: true,
      groups: ['devs'],
    });
    expect(tokens.refreshToken).toBeTruthy();
    expect(tokens.expiresAt.getTime() - claims(tokens.idToken).iat * 1000).toBe(
      idpInfo().idTokenTtlSeconds * 1000,
    );
  });

  it('refuses a wrong password on its login page', async () => {
    const browser = idpBrowser();
    const device = await browser.json(
      `${idpInfo().issuer}/device/auth`,
      new URLSearchParams({ client_id: 'elevate', scope: 'openid email groups' }),
    );
    const input = await browser.go('GET', String(device.body.verification_uri));
    const confirm = await browser.submit(input, 'op.deviceInputForm', {
      user_code: String(device.body.user_code),
    });
    const login = await browser.submit(confirm, 'op.deviceConfirmForm');
    const refused = await browser.submit(login, 'login', { login: 'alice', password: 'bob-password' });
    expect(refused.status).toBe(401);
    expect(refused.body).toContain('Wrong user name or password');
    expect(readForm(refused, 'login').fields.get('login')).toBe('alice');
  });

  it('completes a device flow started elsewhere, as the person at the browser does', async () => {
    const browser = idpBrowser();
    const { issuer } = idpInfo();
    const device = await browser.json(
      `${issuer}/device/auth`,
      new URLSearchParams({ client_id: 'elevate', scope: 'openid email groups offline_access' }),
    );
    const poll = () =>
      browser.json(
        `${issuer}/token`,
        new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
          device_code: String(device.body.device_code),
          client_id: 'elevate',
        }),
      );
    expect((await poll()).body.error).toBe('authorization_pending');
    await signInWithDeviceCode({ dir: idpDir(), user: 'bob', userCode: String(device.body.user_code) });
    const done = await poll();
    expect(done.status).toBe(200);
    expect(claims(String(done.body.id_token))).toMatchObject({
      email: 'bob@example.com',
      groups: ['sre-leads'],
    });
    expect(done.body.refresh_token).toBeTruthy();
  });

  it("has the API server name alice exactly as Elevate's bindings must: oidc:alice@example.com in oidc:devs", async () => {
    for (const flow of ['code', 'device'] as const) {
      const who = await whoAmI(await idToken('alice', { flow }));
      expect(who.username).toBe('oidc:alice@example.com');
      expect(who.groups).toContain('oidc:devs');
      expect(who.groups).toContain('system:authenticated');
    }
    // The second cluster trusts the same issuer.
    expect((await whoAmI(await idToken('bob'), 'dev2')).username).toBe('oidc:bob@example.com');
  });

  it('has the API server refuse a token issued to another client (wrong audience)', async () => {
    const token = await idToken('alice', { clientId: idpInfo().otherClientId });
    expect(claims(token).aud).toBe('other-app');
    const refused = await whoAmI(token).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(k8s.ApiException);
    expect((refused as k8s.ApiException<unknown>).code).toBe(401);
  });

  it('works with kubectl --token', async () => {
    const token = await idToken('carol');
    // A kubeconfig with the token and nothing else (no client certificate) that could authenticate.
    const kubeconfig = join(await mkdtemp(join(tmpdir(), 'idp-kubectl-')), 'kubeconfig');
    await writeFile(kubeconfig, kubeconfigWithToken(token).exportConfig());
    const { kubectl } = await resolveKubeBinaries(undefined, () => {});
    const { stdout } = await run(kubectl, ['--kubeconfig', kubeconfig, 'auth', 'whoami', '-o', 'json']);
    expect(JSON.parse(stdout).status.userInfo.username).toBe('oidc:carol@example.com');
  });

  it('rotates its signing key without a restart; the API server accepts new and old tokens', async () => {
    const before = await idToken('dave');
    const kid = await rotateIdpKeys({ dir: idpDir() });
    const after = await idToken('dave');
    expect(header(after).kid).toBe(kid);
    expect(header(before).kid).not.toBe(kid);
    expect((await whoAmI(after)).username).toBe('oidc:dave@example.com');
    expect((await whoAmI(before)).username).toBe('oidc:dave@example.com');
  });

  it('comes back after a stop with the same issuer, keys and refresh tokens', async () => {
    const { idToken: issued, refreshToken } = await idTokens('admin');
    await stopIdp({ dir: idpDir() });
    expect(idpRunning(idpDir())).toBe(false);
    // Down: the API server still validates with the keys it fetched.
    expect((await whoAmI(issued)).groups).toContain('oidc:platform-admins');
    const info = await startIdp({ dir: idpDir() });
    expect(info.issuer).toBe(idpInfo().issuer);
    expect((await whoAmI(await idToken('admin'))).username).toBe('oidc:admin@example.com');
    const refreshed = await idpBrowser().json(
      `${info.issuer}/token`,
      new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: String(refreshToken),
        client_id: 'elevate',
      }),
    );
    expect(refreshed.status).toBe(200);
    expect((await whoAmI(String(refreshed.body.id_token))).username).toBe('oidc:admin@example.com');
  });
});

describe('an identity provider of its own (no clusters)', () => {
  it('drops the old key on request, and testenvDown stops it', async () => {
    const dir = await mkdtemp(join(inject('testenvDir'), 'idp-'));
    try {
      const info = await startIdp({ dir, idTokenTtlSeconds: 60 });
      expect(readIdpInfo(dir).idTokenTtlSeconds).toBe(60);
      const kid = await rotateIdpKeys({ dir, dropOld: true });
      const jwks = await new IdpBrowser(info.caFile).send('GET', `${info.issuer}/jwks`);
      expect(JSON.parse(jwks.body).keys.map((k: { kid: string }) => k.kid)).toEqual([kid]);
      const tokens = await fetchIdToken({ dir, user: 'dave' });
      expect(header(tokens.idToken).kid).toBe(kid);
      expect(tokens.expiresAt.getTime() - claims(tokens.idToken).iat * 1000).toBe(60_000);
      await testenvDown({ dir });
      expect(idpRunning(dir)).toBe(false);
    } finally {
      await stopIdp({ dir });
    }
  });
});
