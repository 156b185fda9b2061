import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { IdentitySource } from '../../domain/identity.js';

/** What a client needs to know to sign in: public, like the issuer's own discovery document. */
export interface AuthConfigInfo {
  oidc: { issuer: string; clientId: string; scopes: string[] } | null;
  sources: IdentitySource['kind'][];
}

const authConfig = z.object({
  oidc: z
    .object({
      issuer: z.string().describe('The OpenID provider people sign in with'),
      clientId: z.string().describe('The client to sign in as; the ID token audience Elevate accepts'),
      scopes: z.array(z.string()).describe('Scopes to ask for'),
    })
    .nullable()
    .describe('null when people do not sign in with OpenID Connect'),
  sources: z
    .array(z.enum(['token-file', 'oidc', 'kubernetes', 'api-token']))
    .describe('Where bearer tokens may come from, in the order they are tried'),
});

/** GET /api/v1/auth/config: read by `elevate login` before it has any token, so it asks for none. */
export function authConfigRoutes(info: AuthConfigInfo): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/auth/config',
      {
        schema: {
          summary: 'How to sign in: the OpenID provider and client, and the sources of tokens',
          operationId: 'authConfig',
          tags: ['Identity'],
          security: [],
          response: { 200: authConfig },
        },
      },
      async () => info,
    );
  };
}
