import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RequestService } from '../../services/request-service.js';
import { authProblems, bodyProblems, problems } from '../openapi.js';
import { plainText } from '../request-fields.js';
import { accessRequestResource, toResource } from '../resources.js';
import { nameParams } from './access-request-body.js';
import { identityOf } from './authenticate.js';

/** Bodies are optional: a bare POST approves, denies, revokes or cancels (Fastify validates an absent body as null). */
const commentBody = z.strictObject({ comment: plainText(2000).optional() }).nullish();

/** What approvers, requesters and admins do to an existing request. */
export function accessRequestActions(requests: RequestService): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/accessrequests/:name/approve',
      {
        schema: {
          operationId: 'approveAccessRequest',
          summary: 'Approve a pending request (approvers named by its policy; never the requester)',
          tags: ['AccessRequest'],
          params: nameParams,
          body: commentBody,
          response: {
            200: accessRequestResource,
            ...problems(...authProblems, 403, 404, 409, ...bodyProblems),
          },
        },
      },
      async (req) =>
        toResource(await requests.approve(identityOf(req), req.params.name, req.body?.comment ?? null)),
    );

    app.post(
      '/accessrequests/:name/deny',
      {
        schema: {
          summary: 'Deny a pending request',
          operationId: 'denyAccessRequest',
          tags: ['AccessRequest'],
          params: nameParams,
          body: commentBody,
          response: {
            200: accessRequestResource,
            ...problems(...authProblems, 403, 404, 409, ...bodyProblems),
          },
        },
      },
      async (req) =>
        toResource(await requests.deny(identityOf(req), req.params.name, req.body?.comment ?? null)),
    );

    app.post(
      '/accessrequests/:name/revoke',
      {
        schema: {
          summary: 'End approved or active access now',
          operationId: 'revokeAccessRequest',
          tags: ['AccessRequest'],
          params: nameParams,
          body: z.strictObject({ reason: plainText(2000).optional() }).nullish(),
          response: {
            200: accessRequestResource,
            ...problems(...authProblems, 403, 404, 409, ...bodyProblems),
          },
        },
      },
      async (req) =>
        toResource(await requests.revoke(identityOf(req), req.params.name, req.body?.reason ?? null)),
    );

    app.post(
      '/accessrequests/:name/cancel',
      {
        schema: {
          summary: 'Withdraw a pending request',
          operationId: 'cancelAccessRequest',
          tags: ['AccessRequest'],
          params: nameParams,
          body: z.strictObject({}).nullish(),
          response: {
            200: accessRequestResource,
            ...problems(...authProblems, 403, 404, 409, ...bodyProblems),
          },
        },
      },
      async (req) => toResource(await requests.cancel(identityOf(req), req.params.name)),
    );
  };
}
