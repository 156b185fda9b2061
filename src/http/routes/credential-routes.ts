import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { stringify } from 'yaml';
import { z } from 'zod';
import type { CredentialService, GrantCredential } from '../../services/credential-service.js';
import { authProblems, bodyProblems, problems } from '../openapi.js';
import { apiVersion } from '../resources.js';
import { nameParams } from './access-request-body.js';
import { identityOf } from './authenticate.js';

const credentialBody = z
  .strictObject({
    cluster: z
      .string()
      .max(63)
      .optional()
      .describe("Which of the request's clusters; may be left out when it names one"),
  })
  .nullish();

const grantCredential = z.object({
  apiVersion: z.literal(apiVersion),
  kind: z.literal('GrantCredential'),
  cluster: z.string(),
  user: z.string().describe('Who the cluster sees: system:serviceaccount:NAMESPACE:NAME'),
  token: z.string(),
  expiresAt: z.string().describe("The token's own expiry; it stops working earlier if the grant ends"),
  server: z.string(),
  certificateAuthorityData: z.string().nullable(),
  kubeconfig: z.string().describe('The same as a kubeconfig (YAML), ready for kubectl --kubeconfig'),
});

/** A kubeconfig that uses the token, named after the request so several can sit side by side. */
function kubeconfigOf(id: string, c: GrantCredential): string {
  const name = `elevate-${id}-${c.cluster}`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name,
        cluster: { server: c.server, ...(c.caData ? { 'certificate-authority-data': c.caData } : {}) },
      },
    ],
    users: [{ name, user: { token: c.token } }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
  });
}

/** Tokens of a credential grant, for its requester (`elevate credentials ID`). */
export function credentialRoutes(credentials: CredentialService): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/accessrequests/:name/credentials',
      {
        schema: {
          operationId: 'issueAccessRequestCredentials',
          summary:
            'A short-lived token (and kubeconfig) of an Active credential grant’s ServiceAccount; the requester ' +
            'only. 409 when the grant is not Active or is granted by bindings.',
          tags: ['AccessRequest'],
          params: nameParams,
          body: credentialBody,
          response: {
            200: grantCredential,
            ...problems(...authProblems, 403, 404, 409, ...bodyProblems, 502, 503),
          },
        },
      },
      async (req) => {
        const id = req.params.name;
        const c = await credentials.issue(identityOf(req), id, req.body?.cluster ?? null);
        return {
          apiVersion,
          kind: 'GrantCredential' as const,
          cluster: c.cluster,
          user: `system:serviceaccount:${c.account.namespace}:${c.account.name}`,
          token: c.token,
          expiresAt: c.expiresAt.toISOString(),
          server: c.server,
          certificateAuthorityData: c.caData,
          kubeconfig: kubeconfigOf(id, c),
        };
      },
    );
  };
}
