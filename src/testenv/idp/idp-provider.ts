import Provider, { type AdapterFactory, type ClientMetadata, type Configuration } from 'oidc-provider';
import type { IdpInfo } from './idp-info.js';
import type { PrivateJwks } from './idp-keys.js';
import { deviceSuccessPage, userCodeConfirmPage, userCodeInputPage } from './idp-pages.js';
import { findIdpUser } from './idp-users.js';

/** The one redirect URI registered for both clients; native clients may use any port on it (RFC 8252 7.3). */
export const loopbackRedirectUri = 'http://127.0.0.1/callback';

const grantTypes = ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'];

const nativeClient = (clientId: string): ClientMetadata => ({
  client_id: clientId,
  application_type: 'native',
  token_endpoint_auth_method: 'none',
  grant_types: grantTypes,
  response_types: ['code'],
  redirect_uris: [loopbackRedirectUri],
});

/**
 * An oidc-provider configured like a company IdP that Kubernetes and Elevate both trust: RS256 ID tokens
 * that carry email, email_verified and groups themselves (API servers never call userinfo), public native
 * clients with PKCE, the device flow, and refresh tokens for offline_access.
 */
export function createIdpProvider(
  info: IdpInfo,
  jwks: PrivateJwks,
  cookieKeys: string[],
  adapter: AdapterFactory,
): Provider {
  const ttl = info.idTokenTtlSeconds;
  const configuration: Configuration = {
    adapter,
    clients: [nativeClient(info.clientId), nativeClient(info.otherClientId)],
    jwks: jwks as Configuration['jwks'],
    cookies: { keys: cookieKeys },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    // By default claims go to the ID token only when no access token is issued; API servers read the ID token.
    conformIdTokenClaims: false,
    findAccount: (_ctx, id) => {
      const user = findIdpUser(id);
      if (!user) return undefined;
      return {
        accountId: user.name,
        claims: () => ({
          sub: user.name,
          email: user.email,
          email_verified: true,
          groups: user.groups,
          name: user.name,
          preferred_username: user.name,
        }),
      };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: (ctx, form, _out, err) => {
          ctx.body = userCodeInputPage(form, err ? 'That code is not valid; try again.' : undefined);
        },
        userCodeConfirmSource: (ctx, form, client, _deviceInfo, userCode) => {
          ctx.body = userCodeConfirmPage(form, client.clientId, userCode);
        },
        successSource: (ctx) => {
          ctx.body = deviceSuccessPage();
        },
      },
    },
    pkce: { required: () => true },
    ttl: {
      IdToken: ttl,
      AccessToken: ttl,
      AuthorizationCode: 60,
      DeviceCode: 600,
      Interaction: 3600,
      Session: 86_400,
      Grant: 86_400,
      RefreshToken: 86_400,
    },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html><body><h1>Error</h1><pre id="error">${Object.entries(out)
        .map(([k, v]) => `${k}: ${String(v).replace(/[<>&]/g, '')}`)
        .join('\n')}</pre></body></html>`;
    },
  };
  return new Provider(info.issuer, configuration);
}
