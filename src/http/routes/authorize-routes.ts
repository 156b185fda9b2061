import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RequestAttributes } from '../../domain/rbac/rule-evaluation.js';
import type { WebhookAuthorizer } from '../../services/webhook-authorizer.js';
import { type ClusterTokenCheck, requireClusterToken } from '../cluster-token-check.js';
import { problems } from '../openapi.js';

const sarVersion = 'authorization.k8s.io/v1' as const;
const text = z.string().max(4096).optional();

// The API server sends more than these (uid, extra, label and field selectors): kept out of the way, not
// refused, so a newer API server's additions never turn every answer into an error.
const subjectAccessReview = z
  .object({
    apiVersion: z.literal(sarVersion),
    kind: z.literal('SubjectAccessReview'),
    spec: z.object({
      user: z.string().max(1024),
      groups: z.array(z.string()).nullish(),
      resourceAttributes: z
        .object({ namespace: text, verb: text, group: text, resource: text, subresource: text, name: text })
        .nullish(),
      nonResourceAttributes: z.object({ path: text, verb: text }).nullish(),
    }),
  })
  .describe(
    'A SubjectAccessReview (authorization.k8s.io/v1), as an API server’s authorization webhook sends it',
  );

type Spec = z.infer<typeof subjectAccessReview>['spec'];

function attributesOf(spec: Spec): RequestAttributes | null {
  const r = spec.resourceAttributes;
  if (r) {
    return {
      kind: 'resource',
      verb: r.verb ?? '',
      group: r.group ?? '',
      resource: r.resource ?? '',
      subresource: r.subresource ?? '',
      name: r.name ?? '',
      namespace: r.namespace ?? '',
    };
  }
  const n = spec.nonResourceAttributes;
  return n ? { kind: 'nonResource', verb: n.verb ?? '', path: n.path ?? '' } : null;
}

/**
 * `POST /api/v1/authorize/{cluster}`: the authorization webhook of a cluster whose grants are by `webhook`.
 * Allowed when the user holds an Active webhook grant there whose role's rules cover the request;
 * otherwise no opinion (allowed false, never denied), so the cluster's own authorizers decide the rest.
 * Authenticated per cluster by the bearer token of clusters[].authorization.tokenFile.
 */
export function authorizeRoutes(
  authorizer: WebhookAuthorizer,
  checkToken: ClusterTokenCheck,
): FastifyPluginAsyncZod {
  return async (app) => {
    requireClusterToken(app, checkToken, 'this cluster asks no authorization here, or not with this token');
    app.post(
      '/authorize/:cluster',
      {
        schema: {
          summary:
            'Answer a cluster API server’s SubjectAccessReview from the webhook grants (its authorization webhook)',
          tags: ['Authorization webhook'],
          operationId: 'authorize',
          params: z.object({ cluster: z.string().max(63) }),
          body: subjectAccessReview,
          response: {
            200: z.object({
              apiVersion: z.literal(sarVersion),
              kind: z.literal('SubjectAccessReview'),
              status: z.object({ allowed: z.boolean(), reason: z.string().optional() }),
            }),
            ...problems(400, 401, 413, 415, 429),
          },
        },
      },
      async (req) => {
        const attributes = attributesOf(req.body.spec);
        const decision = attributes
          ? authorizer.authorize(req.params.cluster, req.body.spec.user, attributes)
          : { allowed: false as const };
        return {
          apiVersion: sarVersion,
          kind: 'SubjectAccessReview' as const,
          status: decision.allowed ? { allowed: true, reason: decision.reason } : { allowed: false },
        };
      },
    );
  };
}
