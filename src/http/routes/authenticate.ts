import type { FastifyRequest } from 'fastify';
import { Unauthenticated } from '../../domain/errors.js';
import type { Identity } from '../../domain/identity.js';
import type { Authenticator } from '../../services/ports.js';

const identities = new WeakMap<FastifyRequest, Identity>();

/** A preHandler that turns the bearer token into an Identity, or answers 401. */
export function authenticateWith(authenticator: Authenticator) {
  return async (req: FastifyRequest): Promise<void> => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) throw new Unauthenticated('a bearer token is required');
    const identity = authenticator.authenticate(match[1]);
    if (!identity) throw new Unauthenticated('the bearer token is not valid');
    identities.set(req, identity);
  };
}

export function identityOf(req: FastifyRequest): Identity {
  const identity = identities.get(req);
  // Only reachable if a route was registered outside the authenticated scope: a programming error.
  if (!identity) throw new Error('route is missing authentication');
  return identity;
}
