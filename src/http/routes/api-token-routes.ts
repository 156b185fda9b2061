import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  type ApiTokenService,
  type ApiTokenView,
  defaultTokenLifetime,
  tokenLifetimePattern,
} from '../../services/api-token-service.js';
import { authProblems, bodyProblems, problems } from '../openapi.js';
import { plainText } from '../request-fields.js';
import { identityOf } from './authenticate.js';

const tokenName = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label (a-z, 0-9, -; at most 63)')
  .describe(
    'The token\'s name, unique forever (a revoked token\'s name is not reused); the identity is "token:NAME"',
  );

const groupName = plainText(256, { required: true, what: 'a group name' });

const createBody = z.strictObject({
  name: tokenName,
  groups: z
    .array(groupName)
    .max(50)
    .default([])
    .describe('Groups the identity token:NAME is in, for policies, approvers and admins'),
  expires: z
    .string()
    .max(8)
    .regex(tokenLifetimePattern, 'must be 1d..366d, 1h..8784h or never')
    .optional()
    .describe(
      `How long the token lives: ${defaultTokenLifetime} when left out; at least 1h, at most 366d, or never. ` +
        'Anything else is refused with 400.',
    ),
});

const time = z.iso.datetime();
const apiToken = z.object({
  name: z.string(),
  user: z.string().describe('The identity the token proves: token:NAME'),
  groups: z.array(z.string()),
  createdAt: time,
  createdBy: z.string(),
  expiresAt: time.nullable().describe('null: never expires'),
  lastUsedAt: time.nullable().describe('Written at the first use, then at most once a minute'),
  revokedAt: time.nullable(),
  revokedBy: z.string().nullable(),
});
const createdApiToken = apiToken.extend({
  token: z
    .string()
    .describe('The secret: shown here once and never again; the server keeps only its SHA-256'),
});

const iso = (d: Date | null) => d?.toISOString() ?? null;
function toBody(t: ApiTokenView): z.infer<typeof apiToken> {
  return {
    name: t.name,
    user: `token:${t.name}`,
    groups: t.groups,
    createdAt: t.createdAt.toISOString(),
    createdBy: t.createdBy,
    expiresAt: iso(t.expiresAt),
    lastUsedAt: iso(t.lastUsedAt),
    revokedAt: iso(t.revokedAt),
    revokedBy: t.revokedBy,
  };
}

const nameParams = z.strictObject({ name: tokenName });

/** API tokens for integrations; every route is for admins (auth.admins) only. */
export function apiTokenRoutes(tokens: ApiTokenService): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/apitokens',
      {
        links: {
          201: {
            revoke: { operationId: 'revokeApiToken', parameters: { name: '$response.body#/name' } },
          },
        },
        schema: {
          summary: 'Create an API token for an integration (admins); the token is in this answer only',
          operationId: 'createApiToken',
          tags: ['ApiToken'],
          body: createBody,
          response: {
            201: createdApiToken,
            ...problems(...authProblems, 403, 409, ...bodyProblems),
          },
        },
      },
      async (req, reply) => {
        const created = await tokens.create(identityOf(req), req.body);
        return reply.code(201).send({ ...toBody(created), token: created.token });
      },
    );

    app.get(
      '/apitokens',
      {
        schema: {
          summary: 'List API tokens, revoked ones included (admins); never a token or its digest',
          operationId: 'listApiTokens',
          tags: ['ApiToken'],
          response: { 200: z.object({ items: z.array(apiToken) }), ...problems(...authProblems, 403) },
        },
      },
      async (req) => ({ items: (await tokens.list(identityOf(req))).map(toBody) }),
    );

    app.delete(
      '/apitokens/:name',
      {
        schema: {
          summary: 'Revoke an API token (admins): its next use is refused with 401, on every server',
          description:
            'The record stays (with revokedAt) and its name is never reused. Revoking again changes nothing.',
          operationId: 'revokeApiToken',
          tags: ['ApiToken'],
          params: nameParams,
          response: { 200: apiToken, ...problems(...authProblems, 403, 404) },
        },
      },
      async (req) => toBody(await tokens.revoke(identityOf(req), req.params.name)),
    );
  };
}
