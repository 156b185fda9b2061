import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { credentialFromTokens } from './credential-from-tokens.js';
import type { StoredCredential } from './credentials-store.js';
import { describeOidcError, type IdentityProvider } from './identity-provider.js';

export interface BrowserFlowOptions {
  tell: (line: string) => void;
  /** Start the desktop's browser on the URL (xdg-open); the URL is printed either way. */
  openBrowser: boolean;
  timeoutMs: number;
}

function page(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><title>Elevate</title><p>${text}</p>`);
}

function tryToOpen(url: string): void {
  // No desktop (ssh, CI) is fine: the URL is printed for the person to open anywhere on this machine.
  const child = spawn('xdg-open', [url], { stdio: 'ignore', detached: true });
  child.on('error', () => {});
  child.unref();
}

/**
 * Authorization code with PKCE (S256) on a loopback redirect (RFC 8252): a one-shot HTTP server on
 * 127.0.0.1 and a random port receives the code; state ties the answer to this sign-in, the code verifier
 * makes an intercepted code useless to anyone else.
 */
export async function browserFlowSignIn(
  provider: IdentityProvider,
  { tell, openBrowser, timeoutMs }: BrowserFlowOptions,
): Promise<StoredCredential> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  let settle!: { resolve: (c: StoredCredential) => void; reject: (e: Error) => void };
  const done = new Promise<StoredCredential>((resolve, reject) => {
    settle = { resolve, reject };
  });
  let redirectUri = '';

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', redirectUri);
    if (url.pathname !== '/callback') return page(res, 404, 'Not found.');
    // Anything arriving with another state (a stale tab, another sign-in, a forged error) must not end this one.
    if (url.searchParams.get('state') !== state)
      return page(res, 400, 'This sign-in is not the one waiting.');
    const error = url.searchParams.get('error');
    if (error) {
      const description = url.searchParams.get('error_description');
      page(res, 400, 'Sign-in failed; see the terminal.');
      return settle.reject(
        new Error(`the provider refused the sign-in: ${error}${description ? `: ${description}` : ''}`),
      );
    }
    try {
      const tokens = await oidc.authorizationCodeGrant(
        provider.config,
        new URL(url.pathname + url.search, redirectUri),
        {
          pkceCodeVerifier: verifier,
          expectedState: state,
        },
      );
      page(res, 200, 'Signed in to Elevate. You can close this tab.');
      settle.resolve(credentialFromTokens(tokens, provider));
    } catch (e) {
      page(res, 400, 'Sign-in failed; see the terminal.');
      settle.reject(new Error(`the sign-in could not be completed: ${describeOidcError(e)}`));
    }
  }

  const server = createServer((req, res) => void onRequest(req, res));
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const timer = setTimeout(
    () =>
      settle.reject(
        new Error(`no sign-in within ${Math.round(timeoutMs / 1000)} s; run elevate login again`),
      ),
    timeoutMs,
  );
  try {
    redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
    const params: Record<string, string> = {
      redirect_uri: redirectUri,
      scope: provider.scopes.join(' '),
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    };
    // Providers hand out a refresh token for offline_access only when consent was asked explicitly.
    if (provider.scopes.includes('offline_access')) params.prompt = 'consent';
    const authUrl = oidc.buildAuthorizationUrl(provider.config, params).href;
    tell(`Open ${authUrl}`);
    tell('Waiting for the sign-in to complete in the browser…');
    if (openBrowser) tryToOpen(authUrl);
    return await done;
  } finally {
    clearTimeout(timer);
    server.closeAllConnections();
    server.close();
  }
}
