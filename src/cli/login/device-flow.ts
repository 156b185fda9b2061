import * as oidc from 'openid-client';
import { credentialFromTokens } from './credential-from-tokens.js';
import type { StoredCredential } from './credentials-store.js';
import { describeOidcError, type IdentityProvider } from './identity-provider.js';

/** What each way the provider can end a device sign-in means for the person at the terminal. */
const endings: Record<string, string> = {
  access_denied: 'the sign-in was declined at the provider',
  expired_token: 'the code expired before the sign-in was completed; run elevate login again',
};

/**
 * OAuth 2.0 device authorization grant (RFC 8628): the person signs in on any browser with a short code
 * while this polls the token endpoint. openid-client keeps the provider's interval and backs off by 5 s on
 * slow_down, as the RFC asks.
 */
export async function deviceFlowSignIn(
  provider: IdentityProvider,
  tell: (line: string) => void,
  signal?: AbortSignal,
): Promise<StoredCredential> {
  if (!provider.config.serverMetadata().device_authorization_endpoint) {
    throw new Error(`${provider.issuer} offers no device sign-in: run elevate login --browser`);
  }
  let started: oidc.DeviceAuthorizationResponse;
  try {
    started = await oidc.initiateDeviceAuthorization(provider.config, { scope: provider.scopes.join(' ') });
  } catch (e) {
    throw new Error(`${provider.issuer} refused to start a device sign-in: ${describeOidcError(e)}`);
  }
  tell(`Open ${started.verification_uri} and enter code ${started.user_code}`);
  if (started.verification_uri_complete) tell(`(or open ${started.verification_uri_complete})`);
  tell('Waiting for the sign-in to complete…');
  try {
    const tokens = await oidc.pollDeviceAuthorizationGrant(
      provider.config,
      started,
      undefined,
      signal ? { signal } : undefined,
    );
    return credentialFromTokens(tokens, provider);
  } catch (e) {
    if (signal?.aborted)
      throw new Error('no sign-in within the time allowed (--timeout); run elevate login again');
    if (e instanceof oidc.ResponseBodyError && endings[e.error]) throw new Error(endings[e.error]);
    throw new Error(`the device sign-in failed: ${describeOidcError(e)}`);
  }
}
