import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Invalid } from '../../domain/errors.js';
import type { TicketCallbacks } from '../../services/ticket-callback.js';
import { problems } from '../openapi.js';

const callbackBody = z.strictObject({
  provider: z.string().min(1).max(63).describe('tickets.providers[].name of the system calling'),
  ticket: z.string().min(1).max(200).describe('The ticket that changed (INC0010001, OPS-42)'),
  event: z.string().max(200).optional().describe('What happened, for the log (resolved, reassigned, …)'),
});

const recheckReport = z.object({
  checked: z.number().describe('Active grants tied to the ticket that were checked'),
  revoked: z
    .array(z.string())
    .describe('Requests whose grants were ended because the ticket no longer holds'),
  unavailable: z.array(z.string()).describe('Providers that could not answer: those grants were left alone'),
});

/** The body as received, for the signature: kept per request by this scope's own JSON parser. */
const rawBodies = new WeakMap<object, string>();

/**
 * `POST /api/v1/tickets/events`: a ticket system says a ticket changed. Signed, not bearer-authenticated:
 * ServiceNow business rules and Jira automation send a shared-secret HMAC more easily than an OAuth token.
 */
export function ticketEventRoutes(callbacks: TicketCallbacks): FastifyPluginAsyncZod {
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
      rawBodies.set(req, body as string);
      try {
        done(null, body === '' ? undefined : JSON.parse(body as string));
      } catch {
        done(new Invalid('the body is not valid JSON'), undefined);
      }
    });
    app.post(
      '/tickets/events',
      {
        schema: {
          summary: 'A ticket changed: re-check the grants tied to it now (signed by the ticket system)',
          description:
            'Sent by a ticket system (a ServiceNow business rule or Flow, a Jira automation rule). Headers: ' +
            '`X-Elevate-Timestamp` (unix seconds) and `X-Elevate-Signature: sha256=<hex>`, the HMAC-SHA256 of ' +
            '`<timestamp>.<raw body>` keyed with the provider’s callbackSecretFile. Refused: unsigned or badly ' +
            'signed (401), a timestamp more than 5 minutes off (401), the same signed call again (409). The ' +
            'ticket is looked up again; the call itself grants nothing.',
          tags: ['Tickets'],
          operationId: 'ticketEvent',
          security: [],
          headers: z.object({
            'x-elevate-timestamp': z.string().optional(),
            'x-elevate-signature': z.string().optional(),
          }),
          body: callbackBody,
          response: { 202: recheckReport, ...problems(400, 401, 409, 413, 415, 429) },
        },
      },
      async (req, reply) => {
        const report = await callbacks.receive({
          provider: req.body.provider,
          ticket: req.body.ticket,
          timestamp: req.headers['x-elevate-timestamp'],
          signature: req.headers['x-elevate-signature'],
          rawBody: rawBodies.get(req) ?? '',
        });
        return reply.code(202).send(report);
      },
    );
  };
}
