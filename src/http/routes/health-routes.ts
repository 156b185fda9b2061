import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

export interface HealthDeps {
  isReady: () => boolean;
  isLeader: () => boolean;
  /** The OpenAPI document. */
  openapi: () => object;
}

const readiness = z.object({
  status: z.enum(['ready', 'starting']),
  leader: z.boolean().describe('Whether this server holds the lease and runs the timers and drift repair'),
});

/** Probes and the API description: public, so they declare no security. */
export function healthRoutes(deps: HealthDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/healthz',
      {
        schema: {
          summary: 'Liveness: the process serves HTTP',
          operationId: 'healthz',
          tags: ['Health'],
          security: [],
          response: { 200: z.object({ status: z.literal('ok') }) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );
    app.get(
      '/readyz',
      {
        schema: {
          summary: 'Readiness: start-up catch-up has run',
          operationId: 'readyz',
          tags: ['Health'],
          security: [],
          response: {
            200: readiness.describe('Ready to serve'),
            503: readiness.describe('Still catching up on what fell due while down'),
          },
        },
      },
      async (_req, reply) =>
        deps.isReady()
          ? { status: 'ready' as const, leader: deps.isLeader() }
          : reply.code(503).send({ status: 'starting', leader: deps.isLeader() }),
    );
    app.get(
      '/openapi.json',
      {
        schema: {
          summary: 'This document',
          operationId: 'openapi',
          tags: ['Health'],
          security: [],
          response: { 200: z.looseObject({ openapi: z.string() }).describe('OpenAPI 3.1') },
        },
      },
      async () => deps.openapi() as { openapi: string },
    );
  };
}
