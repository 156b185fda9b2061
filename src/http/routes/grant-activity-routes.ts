import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ActivityRecord } from '../../domain/activity.js';
import { reportMarkdown } from '../../domain/grant-report.js';
import type { GrantReportService } from '../../services/grant-report-service.js';
import { authProblems, problems } from '../openapi.js';
import { toResource } from '../resources.js';
import { nameParams } from './access-request-body.js';
import { identityOf } from './authenticate.js';

const action = z
  .object({
    time: z.string(),
    user: z.string().describe('Whose access it was (the impersonated user, when impersonated)'),
    impersonator: z.string().nullable().describe('Who sent the request impersonating user'),
    verb: z.string(),
    apiGroup: z.string().nullable(),
    resource: z.string().nullable(),
    subresource: z.string().nullable(),
    namespace: z.string().nullable(),
    name: z.string().nullable(),
    uri: z.string().nullable().describe('The request URI when no object was named'),
    code: z.number().int().nullable().describe('The API server’s response code'),
    userAgent: z.string().nullable(),
    sourceIps: z.array(z.string()),
    viaGrant: z.boolean().describe('The authorizer allowed it through one of the grant’s own bindings'),
    cluster: z.string(),
    auditId: z.string(),
  })
  .meta({ id: 'GrantAction' });

/** One action as the API shows it. */
export type GrantAction = z.infer<typeof action>;

const toAction = ({ requestId: _request, ...a }: ActivityRecord): z.infer<typeof action> => ({
  ...a,
  time: a.time.toISOString(),
});

/** What was done under a grant, and its report: for whoever may see the request. */
export function grantActivityRoutes(reports: GrantReportService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/accessrequests/:name/activity',
      {
        schema: {
          summary: 'What was done under the grant, from the API servers’ audit events',
          operationId: 'listGrantActivity',
          tags: ['Activity'],
          params: nameParams,
          querystring: z.strictObject({
            limit: z
              // Digits only: z.coerce would read an empty `?limit=` as 0 rather than refuse it.
              .preprocess(
                (v) => (typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v),
                z.number().int().min(0).max(10_000),
              )
              .default(1_000)
              .describe('Most actions listed'),
          }),
          response: {
            200: z.object({
              count: z.number().int().describe('All actions recorded'),
              items: z.array(action),
            }),
            ...problems(...authProblems, 400, 403, 404),
          },
        },
      },
      async (req) => {
        const { count, items } = await reports.activity(identityOf(req), req.params.name, req.query.limit);
        return { count, items: items.map(toAction) };
      },
    );

    app.get(
      '/accessrequests/:name/report',
      {
        schema: {
          summary: 'One document for a post-incident or compliance review of the grant',
          description:
            'Who asked, why, the ticket, the deciding policy and its trace, approvals, the grant, every action ' +
            'taken under it, the timeline, how it ended, and its post-incident review if it has one.',
          operationId: 'grantReport',
          tags: ['Activity'],
          params: nameParams,
          querystring: z.strictObject({ format: z.enum(['md', 'json']).default('md') }),
          response: {
            200: {
              description: 'Markdown, or the same as JSON',
              content: {
                'text/markdown': { schema: z.string() },
                'application/json': {
                  schema: z.object({
                    request: z.unknown().describe('The AccessRequest resource'),
                    timeline: z.array(z.unknown()),
                    activity: z.object({ count: z.number().int(), items: z.array(action) }),
                    review: z.unknown().nullable(),
                    generatedAt: z.string(),
                  }),
                },
              },
            },
            ...problems(...authProblems, 400, 403, 404),
          },
        },
      },
      async (req, reply) => {
        const report = await reports.report(identityOf(req), req.params.name);
        if (req.query.format === 'md') {
          return reply.type('text/markdown; charset=utf-8').send(reportMarkdown(report));
        }
        return reply.type('application/json').send({
          request: toResource(report.request),
          timeline: report.timeline.map((e) => ({ ...e, time: e.time.toISOString() })),
          activity: { count: report.activity.count, items: report.activity.items.map(toAction) },
          review: report.review,
          generatedAt: report.generatedAt.toISOString(),
        });
      },
    );
  };
}
