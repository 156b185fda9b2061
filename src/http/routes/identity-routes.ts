import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sourceOf } from '../../domain/identity.js';
import type { RequestService } from '../../services/request-service.js';
import { authProblems, problems } from '../openapi.js';
import { identityOf } from './authenticate.js';

export function identityRoutes(requests: Pick<RequestService, 'isAdmin'>): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/whoami',
      {
        schema: {
          summary: 'Who the bearer token belongs to',
          operationId: 'whoami',
          tags: ['Identity'],
          response: {
            200: z.object({
              user: z.string(),
              groups: z.array(z.string()),
              admin: z.boolean(),
              source: z
                .object({
                  kind: z.enum(['token-file', 'oidc', 'kubernetes', 'api-token']),
                  issuer: z.string().optional(),
                  cluster: z.string().optional(),
                  name: z.string().optional(),
                })
                .describe('Where the identity came from'),
            }),
            ...problems(...authProblems),
          },
        },
      },
      async (req) => {
        const who = identityOf(req);
        return { user: who.user, groups: who.groups, admin: requests.isAdmin(who), source: sourceOf(who) };
      },
    );
  };
}
