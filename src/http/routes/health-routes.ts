import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

export interface HealthDeps {
  isReady: () => boolean;
  isLeader: () => boolean;
  /** What works on a fallback (an identity provider down, validating with its last keys); null: nothing. */
  degraded: () => string | null;
  /** The OpenAPI document. */
  openapi: () => object;
}

const readiness = z.object({
  status: z.enum(['ready', 'starting']),
  leader: z.boolean().describe('Whether this server holds the lease and runs the timers and drift repair'),
  detail: z
    .string()
    .optional()
    .describe(
      'What runs on a fallback, e.g. an identity provider that cannot be reached (its last keys are used)',
    ),
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
      async (_req, reply) => {
        // Degraded is still ready: the other sign-in sources work, and so do tokens of the last keys.
        const detail = deps.degraded();
        const body = { leader: deps.isLeader(), ...(detail ? { detail } : {}) };
        return deps.isReady()
          ? { status: 'ready' as const, ...body }
          : reply.code(503).send({ status: 'starting', ...body });
      },
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
