import type { Authenticator } from '../../services/ports.js';

/**
 * Asks each source in turn; the first that recognises the token decides, so a token refused by its own
 * issuer (expired, revoked) is never handed on to a source that might accept it for other reasons.
 */
export function chainAuthenticators(sources: Authenticator[]): Authenticator {
  return {
    async authenticate(token) {
      for (const source of sources) {
        const outcome = await source.authenticate(token);
        if (outcome) return outcome;
      }
      return null;
    },
    stop() {
      for (const source of sources) source.stop?.();
    },
    degraded() {
      const problems = sources.map((s) => s.degraded?.() ?? null).filter((p): p is string => p !== null);
      return problems.length === 0 ? null : problems.join('; ');
    },
  };
}
