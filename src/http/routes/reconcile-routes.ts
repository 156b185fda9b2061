import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ReconcileService } from '../../services/reconcile-service.js';
import { authProblems, problems } from '../openapi.js';
import { identityOf } from './authenticate.js';

const outcome = z.object({
  cluster: z.string(),
  report: z
    .record(z.string(), z.number())
    .nullable()
    .describe('Repairs made, by kind (restored, corrected, removed, ...); null when the pass failed'),
  error: z.string().nullable(),
});

export function reconcileRoutes(reconcile: ReconcileService): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/reconcile',
      {
        schema: {
          summary: 'Repair drift in every cluster now (admins; answered by the server holding the lease)',
          tags: ['Operations'],
          operationId: 'reconcile',
          response: {
            200: z.object({ clusters: z.array(outcome) }),
            ...problems(...authProblems, 403, 503),
          },
        },
      },
      async (req) => ({ clusters: await reconcile.reconcile(identityOf(req)) }),
    );
  };
}
