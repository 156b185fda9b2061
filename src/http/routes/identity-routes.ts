import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
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
            200: z.object({ user: z.string(), groups: z.array(z.string()), admin: z.boolean() }),
            ...problems(...authProblems),
          },
        },
      },
      async (req) => {
        const who = identityOf(req);
        return { user: who.user, groups: who.groups, admin: requests.isAdmin(who) };
      },
    );
  };
}
