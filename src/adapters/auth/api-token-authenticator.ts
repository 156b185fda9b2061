import { type ApiTokenIdentifier, looksLikeApiToken } from '../../services/api-token-service.js';
import type { Authenticator } from '../../services/ports.js';

/**
 * API tokens (`elv_…`) by their digest in the store. Anything without the prefix is not ours, and is handed
 * on without a store read; a token with it is ours for good or ill (unknown, revoked, expired).
 */
export function createApiTokenAuthenticator(tokens: ApiTokenIdentifier): Authenticator {
  return {
    async authenticate(token) {
      if (!looksLikeApiToken(token)) return null;
      return (await tokens.identify(token)) ?? { refused: 'no such API token' };
    },
  };
}
