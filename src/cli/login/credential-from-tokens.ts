import type { TokenEndpointResponse, TokenEndpointResponseHelpers } from 'openid-client';
import type { StoredCredential } from './credentials-store.js';
import type { IdentityProvider } from './identity-provider.js';

/**
 * What is kept of a token response. The ID token is the bearer Elevate (and kube-apiserver) accept, so its
 * exp is the credential's expiry, not the access token's. A refresh that returns no new refresh token
 * keeps the previous one (providers that do not rotate them).
 */
export function credentialFromTokens(
  tokens: TokenEndpointResponse & TokenEndpointResponseHelpers,
  provider: IdentityProvider,
  previousRefreshToken?: string,
): StoredCredential {
  const claims = tokens.claims();
  if (!tokens.id_token || !claims) {
    throw new Error(
      `${provider.issuer} returned no ID token: is the openid scope allowed for ${provider.clientId}?`,
    );
  }
  const refreshToken = tokens.refresh_token ?? previousRefreshToken;
  return {
    idToken: tokens.id_token,
    ...(refreshToken ? { refreshToken } : {}),
    expiresAt: new Date(claims.exp * 1000).toISOString(),
    issuer: provider.issuer,
    clientId: provider.clientId,
    ...(provider.caFile ? { caFile: provider.caFile } : {}),
  };
}
