import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AccessRequest } from '../../domain/access-request.js';
import type { Identity } from '../../domain/identity.js';
import type { RequestService } from '../../services/request-service.js';
import { authProblems, bodyProblems, problems } from '../openapi.js';
import { plainText } from '../request-fields.js';
import { accessRequestResource, toResource } from '../resources.js';
import { nameParams } from './access-request-body.js';
import { identityOf } from './authenticate.js';
import { otpHeaders, otpOf } from './mfa-routes.js';

// Bodies are optional: a bare POST approves, denies, revokes or cancels (Fastify validates an absent body
// as null).
const commentBody = z.strictObject({ comment: plainText(2000).optional() }).nullish();
const reasonBody = z.strictObject({ reason: plainText(2000).optional() }).nullish();
const emptyBody = z.strictObject({}).nullish();

type ActionBody = { comment?: string; reason?: string } | null | undefined;

interface Action {
  name: 'approve' | 'deny' | 'revoke' | 'cancel';
  summary: string;
  body: typeof commentBody | typeof reasonBody | typeof emptyBody;
  run(
    requests: RequestService,
    who: Identity,
    id: string,
    body: ActionBody,
    otp: { otp?: string },
  ): Promise<AccessRequest>;
}

/** What approvers, requesters and admins do to an existing request. */
const actions: Action[] = [
  {
    name: 'approve',
    summary: 'Approve a pending request (approvers named by its policy; never the requester)',
    body: commentBody,
    // A policy with approval.requireMfa takes each approver's fresh code in the Elevate-OTP header.
    run: (requests, who, id, body, { otp }) => requests.approve(who, id, body?.comment ?? null, otp),
  },
  {
    name: 'deny',
    summary: 'Deny a pending request',
    body: commentBody,
    run: (requests, who, id, body) => requests.deny(who, id, body?.comment ?? null),
  },
  {
    name: 'revoke',
    summary: 'End approved or active access now',
    body: reasonBody,
    run: (requests, who, id, body) => requests.revoke(who, id, body?.reason ?? null),
  },
  {
    name: 'cancel',
    summary: 'Withdraw a pending request',
    body: emptyBody,
    run: (requests, who, id) => requests.cancel(who, id),
  },
];

export function accessRequestActions(requests: RequestService): FastifyPluginAsyncZod {
  return async (app) => {
    for (const action of actions) {
      app.post(
        `/accessrequests/:name/${action.name}`,
        {
          schema: {
            operationId: `${action.name}AccessRequest`,
            summary: action.summary,
            tags: ['AccessRequest'],
            params: nameParams,
            ...(action.name === 'approve' ? { headers: otpHeaders } : {}),
            body: action.body,
            response: {
              200: accessRequestResource,
              ...problems(...authProblems, 403, 404, 409, ...bodyProblems),
            },
          },
        },
        async (req) =>
          toResource(
            await action.run(
              requests,
              identityOf(req),
              req.params.name,
              req.body,
              otpOf(req.headers as { 'elevate-otp'?: string }),
            ),
          ),
      );
    }
  };
}
