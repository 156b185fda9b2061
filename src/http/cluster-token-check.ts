import type { FastifyInstance } from 'fastify';
import { Unauthenticated } from '../domain/errors.js';

/** Whether `authorization` (the Authorization header) carries the token this cluster's API server sends. */
export type ClusterTokenCheck = (cluster: string, authorization: string | undefined) => boolean;

/**
 * Routes a cluster's API server calls (`…/:cluster`) take that cluster's own bearer token, checked before
 * the body is read: an unauthenticated sender learns nothing about its input.
 */
export function requireClusterToken(app: FastifyInstance, check: ClusterTokenCheck, refusal: string): void {
  app.addHook('onRequest', async (req) => {
    const cluster = (req.params as { cluster?: string }).cluster ?? '';
    if (!check(cluster, req.headers.authorization)) throw new Unauthenticated(refusal);
  });
}
