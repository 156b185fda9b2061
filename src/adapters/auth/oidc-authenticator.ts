import { decodeJwt, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose';
import type { OidcConfig } from '../../config/load-config.js';
import type { Authenticator } from '../../services/ports.js';
import { identityFromClaims } from './oidc-claims.js';
import { type OidcKeys, OidcKeysUnavailable } from './oidc-keys.js';

/** Signatures by a published public key only: never `none`, never a shared secret (HS*). */
const algorithms = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

export type OidcAuthenticator = Authenticator & { stop(): void };

/**
 * Bearer ID tokens of auth.oidc's issuer, verified with jose against the issuer's published keys: the
 * signature, `iss`, `aud` (the clientId), `exp` (required) and `nbf`, with config's clock skew. A token
 * that is not a JWT claiming this issuer is not this source's to judge (null), so the next source — a
 * cluster's TokenReview — may know it; one that claims this issuer is accepted or refused here, with a
 * reason that names what is wrong and never repeats the token.
 */
export function createOidcAuthenticator(config: OidcConfig, keys: OidcKeys): OidcAuthenticator {
  const clockTolerance = Math.round(config.clockSkewMs / 1000);
  return {
    async authenticate(token) {
      const claimed = unverifiedIssuer(token);
      if (claimed !== config.issuer) return null;
      let alg: unknown;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch {
        return { refused: 'the token is not a well-formed JWT' };
      }
      if (typeof alg !== 'string' || alg.toLowerCase() === 'none') {
        return { refused: 'unsigned tokens (alg none) are not accepted' };
      }
      if (!algorithms.includes(alg)) {
        return {
          refused: `tokens signed with ${alg.slice(0, 20)} are not accepted; the issuer's keys sign them`,
        };
      }
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(token, (header) => keys.keyFor(header), {
          issuer: config.issuer,
          audience: config.clientId,
          algorithms,
          clockTolerance,
          requiredClaims: ['exp'],
        }));
      } catch (e) {
        return { refused: whyRefused(e) };
      }
      return identityFromClaims(claims, config);
    },
    degraded: () => keys.degraded(),
    stop: () => keys.stop(),
  };
}

/** The `iss` a compact JWS says it has, before anything is verified; null when it is not one. */
function unverifiedIssuer(token: string): string | null {
  if (token.split('.').length !== 3) return null;
  try {
    const iss = decodeJwt(token).iss;
    return typeof iss === 'string' ? iss : null;
  } catch {
    return null;
  }
}

function whyRefused(e: unknown): string {
  if (e instanceof OidcKeysUnavailable) return e.message;
  if (e instanceof errors.JWTExpired) return 'the token has expired';
  if (e instanceof errors.JWTClaimValidationFailed) {
    switch (e.claim) {
      case 'nbf':
        return 'the token is not valid yet';
      case 'iat':
        return 'the token was issued in the future';
      case 'aud':
        return 'the token was issued for another audience';
      case 'iss':
        return 'the token was issued by another issuer';
      case 'exp':
        return 'the token has no expiry (exp)';
      default:
        return `the token's ${e.claim} claim is not valid`;
    }
  }
  if (e instanceof errors.JWKSNoMatchingKey)
    return 'the token is signed by a key the issuer does not publish';
  if (e instanceof errors.JWKSMultipleMatchingKeys) {
    return 'the token names no key (kid) and the issuer publishes several';
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return "the token's signature does not verify";
  if (e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported) {
    return "the token's algorithm is not one the issuer's keys sign with";
  }
  if (e instanceof errors.JOSEError) return 'the token is not a well-formed JWT';
  // Anything else is Elevate's own fault, not the token's: let it surface as a server error.
  throw e;
}
