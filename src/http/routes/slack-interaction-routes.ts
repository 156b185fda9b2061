import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Invalid } from '../../domain/errors.js';
import { problems } from '../openapi.js';

/** What the route needs: the check of Slack's signature, and the click acted on. */
export interface SlackInteractionReceiver {
  receive(call: { timestamp?: string; signature?: string; rawBody: string }): Promise<void>;
}

const rawBodies = new WeakMap<object, string>();

/**
 * `POST /api/v1/notifications/slack/interactions`: the Request URL of the Slack app's Interactivity. Signed
 * by Slack, not bearer-authenticated; a form with one `payload` field holding the JSON of the click.
 */
export function slackInteractionRoutes(receiver: SlackInteractionReceiver): FastifyPluginAsyncZod {
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string' },
      (req, body, done) => {
        rawBodies.set(req, body as string);
        done(null, Object.fromEntries(new URLSearchParams(body as string)));
      },
    );
    app.post(
      '/notifications/slack/interactions',
      {
        schema: {
          summary: 'Approve/Deny clicked in Slack (signed by Slack)',
          description:
            'Slack’s interaction callback. Headers `X-Slack-Request-Timestamp` and `X-Slack-Signature: ' +
            'v0=<hex>`, the HMAC-SHA256 of `v0:<timestamp>:<raw body>` keyed with the app’s signing secret ' +
            '(notifications.channels[].signingSecretFile). Refused: unsigned or badly signed (401), a timestamp ' +
            'more than 5 minutes off (401), the same signed call again (409). The clicker is mapped to an ' +
            'Elevate identity by their Slack e-mail and judged like any approver; they are told the outcome in ' +
            'Slack.',
          tags: ['Notifications'],
          operationId: 'slackInteraction',
          security: [],
          consumes: ['application/x-www-form-urlencoded'],
          headers: z.object({
            'x-slack-request-timestamp': z.string().optional(),
            'x-slack-signature': z.string().optional(),
          }),
          body: z.object({ payload: z.string().describe('The interaction, as JSON') }),
          response: { 200: z.object({}), ...problems(400, 401, 409, 413, 415, 429) },
        },
      },
      async (req) => {
        const rawBody = rawBodies.get(req);
        if (rawBody === undefined) throw new Invalid('expected an application/x-www-form-urlencoded body');
        await receiver.receive({
          timestamp: req.headers['x-slack-request-timestamp'],
          signature: req.headers['x-slack-signature'],
          rawBody,
        });
        return {};
      },
    );
  };
}
