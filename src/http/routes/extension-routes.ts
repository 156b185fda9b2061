import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ExtensionService } from '../../services/extension-service.js';
import { authProblems, bodyProblems, problems } from '../openapi.js';
import { goDuration, plainText } from '../request-fields.js';
import { accessRequestResource, toResource } from '../resources.js';
import { nameParams } from './access-request-body.js';
import { identityOf } from './authenticate.js';
import { otpHeaders, otpOf } from './mfa-routes.js';

const extendBody = z.strictObject({
  by: goDuration(
    'How much longer, Go style (30m, 1h). Judged by policy with the whole grant (duration asked for, ' +
      'extensions approved before, and this one): over a maxDuration it is refused with 403.',
  ),
  reason: plainText(2000).optional().describe('Why more time is needed'),
});
// Optional, as for a request's approve and deny: a bare POST decides.
const commentBody = z.strictObject({ comment: plainText(2000).optional() }).nullish();

// Moving an expiry writes the new one onto the bindings: the cluster may refuse (502) or be out of reach (503).
const answers = {
  200: accessRequestResource,
  ...problems(...authProblems, 403, 404, 409, ...bodyProblems, 502, 503),
};

/** Extensions of an Active grant: asked for by its requester, decided by policy or by approvers. */
export function extensionRoutes(extensions: ExtensionService): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/accessrequests/:name/extend',
      {
        schema: {
          operationId: 'extendAccessRequest',
          summary:
            'Ask for more time on an Active grant (the requester or an admin); 409 when it is not Active or ' +
            'an extension already waits for approval',
          tags: ['AccessRequest'],
          params: nameParams,
          body: extendBody,
          response: answers,
        },
      },
      async (req) =>
        toResource(
          await extensions.extend(identityOf(req), req.params.name, {
            byMs: req.body.by,
            reason: req.body.reason ?? null,
          }),
        ),
    );
    for (const action of ['approve', 'deny'] as const) {
      app.post(
        `/accessrequests/:name/extension/${action}`,
        {
          schema: {
            operationId: `${action}AccessRequestExtension`,
            summary: `${action === 'approve' ? 'Approve' : 'Deny'} the extension waiting for approval (approvers named by its policy; never the requester)`,
            tags: ['AccessRequest'],
            params: nameParams,
            ...(action === 'approve' ? { headers: otpHeaders } : {}),
            body: commentBody,
            response: answers,
          },
        },
        async (req) => {
          const who = identityOf(req);
          const comment = req.body?.comment ?? null;
          // An extension whose policy has approval.requireMfa takes each approver's code (Elevate-OTP).
          const { otp } = otpOf(req.headers as { 'elevate-otp'?: string });
          return toResource(
            action === 'approve'
              ? await extensions.approve(who, req.params.name, comment, otp)
              : await extensions.deny(who, req.params.name, comment),
          );
        },
      );
    }
  };
}
