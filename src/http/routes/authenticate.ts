import type { FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import { Invalid, Unauthenticated } from '../../domain/errors.js';
import type { Identity } from '../../domain/identity.js';
import type { Authenticator } from '../../services/ports.js';

const identities = new WeakMap<FastifyRequest, Identity>();

/** How often a header was sent: Node keeps only the first Authorization header in req.headers. */
const countHeader = (rawHeaders: string[], name: string): number =>
  rawHeaders.filter((value, i) => i % 2 === 0 && value.toLowerCase() === name).length;

/** A hook that turns the bearer token into an Identity, or answers 401. */
export function authenticateWith(authenticator: Authenticator) {
  return async (req: FastifyRequest): Promise<void> => {
    // Proxies and servers disagree on which of several wins; refuse rather than pick one.
    if (countHeader(req.raw.rawHeaders, 'authorization') > 1) {
      throw new Invalid('send one Authorization header, not several', 'Authorization');
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) throw new Unauthenticated('a bearer token is required');
    const outcome = await authenticator.authenticate(match[1]);
    if (!outcome) throw new Unauthenticated(unknownTokenDetail(match[1]));
    if ('refused' in outcome) throw new Unauthenticated(outcome.refused);
    identities.set(req, outcome.identity);
  };
}

/**
 * Why no source knew the token. A JWT naming an issuer is most likely an ID token of an identity provider
 * Elevate is not configured to trust: say that (without echoing the issuer, which the caller controls).
 */
function unknownTokenDetail(token: string): string {
  try {
    if (typeof decodeJwt(token).iss === 'string')
      return 'the token was issued by an issuer this server does not trust';
  } catch {
    // Not a JWT: an opaque token nobody issued.
  }
  return 'the bearer token is not valid';
}

export function identityOf(req: FastifyRequest): Identity {
  const identity = identities.get(req);
  // Only reachable if a route was registered outside the authenticated scope: a programming error.
  if (!identity) throw new Error('route is missing authentication');
  return identity;
}
