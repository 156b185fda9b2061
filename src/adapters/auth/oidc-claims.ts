import type { JWTPayload } from 'jose';
import type { OidcConfig } from '../../config/load-config.js';
import type { AuthOutcome } from '../../services/ports.js';

export type ClaimMapping = Pick<
  OidcConfig,
  'issuer' | 'usernameClaim' | 'usernamePrefix' | 'groupsClaim' | 'groupsPrefix' | 'requiredClaims'
>;

/**
 * The identity a verified ID token's claims name, mapped as kube-apiserver's --oidc-* flags map them, so
 * a person is the same user in Elevate's policies as in the cluster: the username claim (an `email` only
 * when not marked unverified) with usernamePrefix, each group with groupsPrefix, and every required claim
 * present with exactly its value. Unlike kube-apiserver's legacy flags, a username claim other than email
 * is never prefixed with the issuer URL on its own: the prefix is always just usernamePrefix.
 */
export function identityFromClaims(claims: JWTPayload, mapping: ClaimMapping): NonNullable<AuthOutcome> {
  const name = claims[mapping.usernameClaim];
  if (typeof name !== 'string' || name === '') {
    return { refused: `the token lacks the ${mapping.usernameClaim} claim` };
  }
  if (mapping.usernameClaim === 'email' && 'email_verified' in claims && claims.email_verified !== true) {
    return { refused: 'the token says its email is not verified' };
  }
  for (const [claim, wanted] of Object.entries(mapping.requiredClaims)) {
    if (claims[claim] !== wanted) return { refused: `claim ${claim} must be ${wanted}` };
  }
  const groups = groupsOf(claims[mapping.groupsClaim]);
  if (!groups) return { refused: `the ${mapping.groupsClaim} claim must be a string or a list of strings` };
  return {
    identity: {
      user: `${mapping.usernamePrefix}${name}`,
      groups: groups.map((g) => `${mapping.groupsPrefix}${g}`),
      source: { kind: 'oidc', issuer: mapping.issuer },
    },
  };
}

/** A missing claim is no groups; kube-apiserver also takes a single string as one group. */
function groupsOf(value: unknown): string[] | null {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((g) => typeof g === 'string')) return value;
  return null;
}
