import { createHash, randomBytes } from 'node:crypto';
import { type BrowserResponse, IdpBrowser } from './idp-browser.js';
import { type IdpInfo, readIdpInfo } from './idp-info.js';
import { loopbackRedirectUri } from './idp-provider.js';
import { findIdpUser, type IdpUser } from './idp-users.js';

export interface IdpTokens {
  idToken: string;
  /** Present when offline_access was asked for (it is by default). */
  refreshToken?: string;
  accessToken: string;
  /** When the ID token expires (its exp claim). */
  expiresAt: Date;
}

export interface FetchIdTokenOptions {
  dir: string;
  user: string;
  /** Default: info.clientId (elevate); info.otherClientId gives a token for another audience. */
  clientId?: string;
  scopes?: string[];
  /** How to sign in; both go through the provider's real pages. Default 'code' (authorization code + PKCE). */
  flow?: 'code' | 'device';
}

const defaultScopes = ['openid', 'email', 'profile', 'groups', 'offline_access'];

function testUser(login: string): IdpUser {
  const user = findIdpUser(login);
  if (!user) throw new Error(`no test user ${login} in the testenv identity provider`);
  return user;
}

/** Signs `user` in on whatever page comes (login, consent) until the flow leaves the provider or succeeds. */
async function walk(browser: IdpBrowser, first: BrowserResponse, user: IdpUser): Promise<BrowserResponse> {
  let page = first;
  for (let step = 0; step < 10; step++) {
    if (page.status >= 300 && page.status < 400) return page; // redirected to the client
    if (page.body.includes('id="device-success"')) return page;
    if (page.body.includes('id="login"')) {
      page = await browser.submit(page, 'login', { login: user.name, password: user.password });
      if (page.status === 401) throw new Error(`the provider refused the password of ${user.name}`);
    } else if (page.body.includes('id="consent"')) page = await browser.submit(page, 'consent');
    else break;
  }
  const text = page.body
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 400);
  throw new Error(`sign-in of ${user.name} stopped at ${page.url} (HTTP ${page.status}): ${text}`);
}

/**
 * Plays the person at the browser for a device flow someone else started (elevate login): opens the
 * verification page, enters the user code, confirms, signs in with the password and consents.
 */
export async function signInWithDeviceCode(opts: {
  dir: string;
  user: string;
  userCode: string;
  verificationUri?: string;
}): Promise<void> {
  const info = readIdpInfo(opts.dir);
  const user = testUser(opts.user);
  const browser = new IdpBrowser(info.caFile);
  const input = await browser.go('GET', opts.verificationUri ?? `${info.issuer}/device`);
  const confirm = await browser.submit(input, 'op.deviceInputForm', { user_code: opts.userCode });
  if (!confirm.body.includes('op.deviceConfirmForm'))
    throw new Error(`the provider did not accept the user code ${opts.userCode}`);
  const done = await walk(browser, await browser.submit(confirm, 'op.deviceConfirmForm'), user);
  if (!done.body.includes('id="device-success"'))
    throw new Error(
      `the device sign-in of ${user.name} did not succeed (HTTP ${done.status} at ${done.url})`,
    );
}

async function discovery(browser: IdpBrowser, info: IdpInfo): Promise<Record<string, string>> {
  const res = await browser.send('GET', `${info.issuer}/.well-known/openid-configuration`);
  if (res.status !== 200) throw new Error(`discovery at ${info.issuer} answered ${res.status}`);
  return JSON.parse(res.body) as Record<string, string>;
}

function tokensFrom(body: Record<string, unknown>, status: number): IdpTokens {
  if (status !== 200 || typeof body.id_token !== 'string')
    throw new Error(`the token endpoint answered ${status}: ${String(body.error_description ?? body.error)}`);
  const claims = JSON.parse(Buffer.from(body.id_token.split('.')[1] ?? '', 'base64url').toString()) as {
    exp: number;
  };
  return {
    idToken: body.id_token,
    accessToken: String(body.access_token),
    ...(typeof body.refresh_token === 'string' ? { refreshToken: body.refresh_token } : {}),
    expiresAt: new Date(claims.exp * 1000),
  };
}

/** Signs a test user in through the provider's real pages and returns the tokens the client gets. */
export async function fetchIdToken(opts: FetchIdTokenOptions): Promise<IdpTokens> {
  const info = readIdpInfo(opts.dir);
  const user = testUser(opts.user);
  const clientId = opts.clientId ?? info.clientId;
  const scope = (opts.scopes ?? defaultScopes).join(' ');
  const browser = new IdpBrowser(info.caFile);
  const meta = await discovery(browser, info);
  const tokenEndpoint = meta.token_endpoint ?? `${info.issuer}/token`;

  if (opts.flow === 'device') {
    const start = await browser.json(
      meta.device_authorization_endpoint ?? `${info.issuer}/device/auth`,
      new URLSearchParams({ client_id: clientId, scope }),
    );
    if (start.status !== 200) throw new Error(`device authorization answered ${start.status}`);
    await signInWithDeviceCode({
      dir: opts.dir,
      user: user.name,
      userCode: String(start.body.user_code),
      verificationUri: String(start.body.verification_uri),
    });
    const res = await browser.json(
      tokenEndpoint,
      new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: String(start.body.device_code),
        client_id: clientId,
      }),
    );
    return tokensFrom(res.body, res.status);
  }

  // A native app listens on a port of its choosing; the provider accepts any port on the registered URI.
  const redirectUri = loopbackRedirectUri.replace('127.0.0.1', '127.0.0.1:8765');
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const authorize = new URL(meta.authorization_endpoint ?? `${info.issuer}/auth`);
  authorize.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope,
    state,
    nonce: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    // oidc-provider drops offline_access (no refresh token) unless consent is prompted for.
    prompt: 'consent',
  }).toString();
  const back = await walk(browser, await browser.go('GET', authorize.href), user);
  const callback = new URL(String(back.headers.location));
  if (callback.searchParams.get('state') !== state) throw new Error('the provider returned another state');
  const code = callback.searchParams.get('code');
  if (!code)
    throw new Error(`the provider returned no code: ${callback.searchParams.get('error_description')}`);
  const res = await browser.json(
    tokenEndpoint,
    new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: clientId,
      code_verifier: verifier,
    }),
  );
  return tokensFrom(res.body, res.status);
}
