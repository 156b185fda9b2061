import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BrowserResponse, IdpBrowser } from '../../src/testenv/idp/idp-browser.js';
import { type IdpInfo, readIdpInfo } from '../../src/testenv/idp/idp-info.js';
import { signInWithDeviceCode } from '../../src/testenv/idp/idp-sign-in.js';
import { elevateBin, personEnv, type RunningCli, repo, run, startCli } from '../support/cli.js';
import { startElevate } from '../support/elevate.js';
import { elevateKubeconfig } from '../support/kube.js';
import { type OidcElevate, startOidcElevate } from '../support/oidc-elevate.js';

let info: IdpInfo;
let idpDir: string;
let elevate: OidcElevate;
let url: string;
let home: string;
let credentialsFile: string;

beforeAll(async () => {
  expect(existsSync(join(repo, 'dist/cli/main.js')), 'run `make build` first').toBe(true);
  idpDir = inject('idpDir');
  info = readIdpInfo(idpDir);
  // The token file stays beside OIDC: a token given with --token must win over the stored sign-in.
  elevate = await startOidcElevate({
    idp: info,
    auth: ['tokenFile: ./tokens.csv', 'admins: { groups: [platform-admins] }'],
    files: { 'tokens.csv': 'token-root,root,uid-root,"platform-admins"\n' },
    rest: `policies:
  - { name: view, match: { groups: [devs], roles: [view] }, decision: auto, maxDuration: 1h }`,
  });
  url = elevate.url;
  home = mkdtempSync(join(tmpdir(), 'elevate-home-'));
  credentialsFile = join(home, 'config', 'elevate', 'credentials.json');
});

afterAll(async () => {
  await elevate?.stop();
});

const env = (extra: Record<string, string> = {}) => personEnv(home, url, extra);
const cli = (args: string[], extra: Record<string, string> = {}) => run(elevateBin, args, env(extra));

/** `elevate ARGS` as this person, its stderr read as it comes. */
const start = (args: string[], extra: Record<string, string> = {}): RunningCli => startCli(args, env(extra));

const stored = () => JSON.parse(readFileSync(credentialsFile, 'utf8')).servers[url];

/** Signs `login` in on the provider's pages from `authUrl` on, and returns where the provider sends the browser. */
async function signInAt(authUrl: string, login: string): Promise<string> {
  const browser = new IdpBrowser(info.caFile);
  let page: BrowserResponse = await browser.go('GET', authUrl);
  for (let step = 0; step < 5 && !(page.status >= 300 && page.status < 400); step++) {
    if (page.body.includes('id="login"'))
      page = await browser.submit(page, 'login', { login, password: `${login}-password` });
    else if (page.body.includes('id="consent"')) page = await browser.submit(page, 'consent');
    else throw new Error(`unexpected page at ${page.url} (HTTP ${page.status})`);
  }
  return String(page.headers.location);
}

describe('elevate login through the testenv OpenID provider', () => {
  it('device flow: prints the URL and code, alice signs in on the provider, whoami shows her', async () => {
    const login = start(['login', '--oidc-ca-file', info.caFile]);
    const [, verificationUri = '', userCode = ''] = await login.waitFor(/Open (\S+) and enter code (\S+)/);
    expect(verificationUri).toBe(`${info.issuer}/device`);
    await login.waitFor(/or open \S+\?user_code=/);
    await signInWithDeviceCode({ dir: idpDir, user: 'alice', userCode, verificationUri });
    const done = await login.exit;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toContain(
      `Signed in to ${url} as alice@example.com (groups: devs) via oidc (${info.issuer})`,
    );

    // Kept for this server only, readable by the user alone; no token was printed.
    expect(statSync(credentialsFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'config', 'elevate')).mode & 0o777).toBe(0o700);
    const credential = stored();
    expect(credential).toMatchObject({ issuer: info.issuer, clientId: info.clientId, caFile: info.caFile });
    expect(credential.refreshToken).toBeTruthy();
    expect(done.stdout + done.stderr).not.toContain(credential.idToken);
    expect(done.stdout + done.stderr).not.toContain(credential.refreshToken);

    const me = await cli(['whoami']);
    expect(me.code, me.stderr).toBe(0);
    expect(me.stdout.trim()).toBe(`alice@example.com (groups: devs) via oidc (${info.issuer})`);
    // The stored sign-in is what any command sends: alice's view is granted under her prefixed name.
    const asked = await cli([
      'request',
      '--cluster',
      'dev',
      '--role',
      'view',
      '--cluster-wide',
      '--duration',
      '5m',
      '--reason',
      'look around',
      '-o',
      'json',
    ]);
    expect(asked.code, asked.stderr).toBe(0);
    const request = JSON.parse(asked.stdout);
    expect(request.spec.requester).toBe('alice@example.com');
    expect(request.spec.requesterSource).toBe('oidc');
    expect(request.spec.subjects.dev).toMatchObject({ kind: 'User', name: 'oidc:alice@example.com' });
    await cli(['revoke', request.metadata.name], { ELEVATE_TOKEN: 'token-root' });

    // --token / ELEVATE_TOKEN win over the stored sign-in.
    expect((await cli(['whoami'], { ELEVATE_TOKEN: 'token-root' })).stdout.trim()).toBe(
      'root (groups: platform-admins) [admin] via token-file',
    );
    expect((await cli(['whoami', '--token', 'token-root'])).stdout).toContain(
      'root (groups: platform-admins)',
    );
  });

  it('renews an ID token about to expire with the refresh token, and keeps the renewal', async () => {
    const before = stored();
    // As if the ID token had 30 s left: within the minute in which the CLI renews before sending it.
    writeFileSync(
      credentialsFile,
      JSON.stringify({
        servers: { [url]: { ...before, expiresAt: new Date(Date.now() + 30_000).toISOString() } },
      }),
    );
    const me = await cli(['whoami']);
    expect(me.code, me.stderr).toBe(0);
    expect(me.stdout).toContain('alice@example.com (groups: devs)');
    const after = stored();
    // The provider rotates refresh tokens: a new one proves the refresh grant ran.
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(Date.parse(after.expiresAt)).toBeGreaterThan(Date.now() + 60_000);
    expect(statSync(credentialsFile).mode & 0o777).toBe(0o600);
  });

  it('commands renewing at once spend the rotating refresh token once, so the sign-in survives', async () => {
    const before = stored();
    writeFileSync(
      credentialsFile,
      JSON.stringify({
        servers: { [url]: { ...before, expiresAt: new Date(Date.now() + 30_000).toISOString() } },
      }),
    );
    // A reused refresh token makes the provider revoke the whole grant; one renewal must serve all three.
    const all = await Promise.all([cli(['whoami']), cli(['whoami']), cli(['whoami'])]);
    for (const r of all) expect(r.stdout, r.stderr).toContain('alice@example.com (groups: devs)');
    const after = stored();
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(existsSync(`${credentialsFile}.lock`)).toBe(false);
    // The renewed refresh token still works: the grant was not revoked for a reuse.
    writeFileSync(
      credentialsFile,
      JSON.stringify({
        servers: { [url]: { ...after, expiresAt: new Date(Date.now() + 30_000).toISOString() } },
      }),
    );
    const again = await cli(['whoami']);
    expect(again.code, again.stderr).toBe(0);
    expect(stored().refreshToken).not.toBe(after.refreshToken);
  });

  it('a refresh the provider refuses says to run elevate login', async () => {
    const good = stored();
    writeFileSync(
      credentialsFile,
      JSON.stringify({
        servers: {
          [url]: { ...good, refreshToken: 'not-a-refresh-token', expiresAt: new Date().toISOString() },
        },
      }),
    );
    const me = await cli(['whoami']);
    expect(me.code).toBe(1);
    expect(me.stderr).toMatch(
      new RegExp(
        `your sign-in to ${url} has expired and could not be renewed \\(invalid_grant.*\\): run elevate login`,
      ),
    );
    expect(me.stderr).not.toMatch(/\n\s+at /);

    // A stored token the server refuses (tampered here; a provider's revoked key alike) says the same.
    const [head, body] = good.idToken.split('.');
    writeFileSync(
      credentialsFile,
      JSON.stringify({ servers: { [url]: { ...good, idToken: `${head}.${body}.AAAA` } } }),
    );
    const refused = await cli(['whoami']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'the sign-in kept by elevate login was refused: run elevate login again',
    );
    writeFileSync(credentialsFile, JSON.stringify({ servers: { [url]: good } }));
  });

  it('logout forgets the sign-in; whoami then says how to sign in', async () => {
    const out = await cli(['logout']);
    expect(out.code).toBe(0);
    expect(out.stdout.trim()).toBe(`Signed out of ${url}.`);
    expect(stored()).toBeUndefined();
    const me = await cli(['whoami']);
    expect(me.code).toBe(1);
    expect(me.stderr).toContain('no token given: run elevate login, or set --token / ELEVATE_TOKEN');
    expect((await cli(['logout'])).stdout.trim()).toBe(`Not signed in to ${url}; nothing to forget.`);
  });

  it('--browser: authorization code + PKCE on a loopback redirect, driven through the provider pages', async () => {
    // The provider's CA from ELEVATE_CA this time, as bin/elevate passes it to Node.
    const login = start(['login', '--browser', '--no-open', '--print-token'], { ELEVATE_CA: info.caFile });
    const [, authUrl = ''] = await login.waitFor(/^Open (\S+)$/m);
    const auth = new URL(authUrl);
    expect(auth.origin).toBe(info.issuer);
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const state = auth.searchParams.get('state');

    // A stray request with another state does not end the sign-in.
    const stray = await fetch(`${auth.searchParams.get('redirect_uri')}?code=x&state=other`);
    expect(stray.status).toBe(400);

    const callback = await signInAt(authUrl, 'bob');
    expect(new URL(callback).searchParams.get('state')).toBe(state);
    const landing = await fetch(callback);
    expect(landing.status).toBe(200);
    expect(await landing.text()).toContain('Signed in to Elevate');
    const done = await login.exit;
    expect(done.code, done.stderr).toBe(0);
    expect((await cli(['whoami'])).stdout.trim()).toBe(
      `bob@example.com (groups: sre-leads) via oidc (${info.issuer})`,
    );
    expect(stored().refreshToken).toBeTruthy();
    // --print-token: the ID token alone on stdout, for kubectl --token or a script.
    expect(done.stdout.trim()).toBe(stored().idToken);
  });

  it('--browser: a sign-in declined at the provider ends with its reason', async () => {
    const login = start(['login', '--browser', '--no-open'], { ELEVATE_CA: info.caFile });
    const [, authUrl = ''] = await login.waitFor(/^Open (\S+)$/m);
    const redirect = new URL(authUrl).searchParams.get('redirect_uri');
    const state = new URL(authUrl).searchParams.get('state');
    // What the provider sends back when the person declines (RFC 6749 4.1.2.1).
    await fetch(`${redirect}?error=access_denied&error_description=declined&state=${state}`);
    const done = await login.exit;
    expect(done.code).toBe(1);
    expect(done.stderr).toContain('error: the provider refused the sign-in: access_denied: declined');
  });

  it('a device sign-in nobody completes ends at --timeout, saying so', async () => {
    const login = await cli(['login', '--timeout', '2s'], { ELEVATE_CA: info.caFile });
    expect(login.code).toBe(1);
    expect(login.stderr).toMatch(/enter code \S+/);
    expect(login.stderr).toContain(
      'error: no sign-in within the time allowed (--timeout); run elevate login again',
    );
  });

  it('a server without OIDC says so, and how else to authenticate', async () => {
    const plain = await startElevate({ clusters: { dev: elevateKubeconfig('dev') } });
    try {
      const login = await cli(['login', '--server', plain.url]);
      expect(login.code).toBe(1);
      // API tokens are always accepted beside the token file; what matters is that OIDC is not among them.
      expect(login.stderr.trim()).toMatch(
        new RegExp(
          `^error: ${plain.url} does not sign people in with OpenID Connect \\(it accepts: token-file[^)]*\\); give a token with --token or ELEVATE_TOKEN$`,
        ),
      );
    } finally {
      await plain.stop();
    }
  });
});
