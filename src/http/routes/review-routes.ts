import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { reviewOutcomes } from '../../domain/breakglass.js';
import type { ReviewService, ReviewView } from '../../services/review-service.js';
import { authProblems, bodyProblems, problems } from '../openapi.js';
import { plainText } from '../request-fields.js';
import { accessRequestResource, toResource } from '../resources.js';
import { identityOf } from './authenticate.js';

const reviewResource = z
  .object({
    id: z.string(),
    request: z.string().describe('The access request reviewed'),
    user: z.string().describe('Whose emergency access it was'),
    kind: z.enum(['breakglass', 'tickets-waived']),
    state: z.enum(['open', 'done']),
    overdue: z.boolean().describe('Open past its deadline (breakglass.reviewDeadline)'),
    openedAt: z.string(),
    dueAt: z.string(),
    outcome: z.enum(reviewOutcomes).nullable(),
    notes: z.string().nullable(),
    completedBy: z.string().nullable(),
    completedAt: z.string().nullable(),
  })
  .meta({ id: 'Review' });

const timelineEvent = z.object({
  seq: z.number(),
  time: z.string(),
  actor: z.string(),
  action: z.string(),
  cluster: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});

const reviewParams = z.strictObject({
  id: z.string().regex(/^rv-[a-z0-9]{1,40}$/, 'must be a review id (rv-…)'),
});

function toBody({ review: r, overdue }: ReviewView): z.infer<typeof reviewResource> {
  return {
    id: r.id,
    request: r.requestId,
    user: r.user,
    kind: r.kind,
    state: r.state,
    overdue,
    openedAt: r.openedAt.toISOString(),
    dueAt: r.dueAt.toISOString(),
    outcome: r.outcome,
    notes: r.notes,
    completedBy: r.completedBy,
    completedAt: r.completedAt?.toISOString() ?? null,
  };
}

/** Post-incident reviews of emergency grants: reviewers and admins read them, other reviewers complete them. */
export function reviewRoutes(reviews: ReviewService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/reviews',
      {
        schema: {
          summary: 'List post-incident reviews, overdue ones flagged (reviewers and admins)',
          operationId: 'listReviews',
          tags: ['Review'],
          querystring: z.strictObject({ state: z.enum(['open', 'done']).optional() }),
          response: { 200: z.object({ items: z.array(reviewResource) }), ...problems(...authProblems, 403) },
        },
      },
      async (req) => ({ items: (await reviews.list(identityOf(req), req.query.state)).map(toBody) }),
    );

    app.get(
      '/reviews/:id',
      {
        schema: {
          summary: 'One review with its request, approvals, ticket and timeline (reviewers and admins)',
          operationId: 'getReview',
          tags: ['Review'],
          params: reviewParams,
          response: {
            200: reviewResource.extend({
              accessRequest: accessRequestResource.nullable(),
              timeline: z.array(timelineEvent).describe('The request’s audit events, oldest first'),
            }),
            ...problems(...authProblems, 403, 404),
          },
        },
      },
      async (req) => {
        const detail = await reviews.show(identityOf(req), req.params.id);
        return {
          ...toBody(detail),
          accessRequest: detail.request ? toResource(detail.request) : null,
          timeline: detail.timeline.map((e) => ({
            seq: e.seq,
            time: e.time.toISOString(),
            actor: e.actor,
            action: e.action,
            cluster: e.cluster,
            details: e.details,
          })),
        };
      },
    );

    app.post(
      '/reviews/:id/complete',
      {
        schema: {
          summary: 'Complete a review: justified or unjustified, with notes (a reviewer other than the user)',
          operationId: 'completeReview',
          tags: ['Review'],
          params: reviewParams,
          body: z.strictObject({
            outcome: z.enum(reviewOutcomes),
            notes: plainText(4000, { required: true, what: 'notes' }).describe('What the review found'),
          }),
          response: { 200: reviewResource, ...problems(...authProblems, 403, 404, 409, ...bodyProblems) },
        },
      },
      async (req) =>
        toBody(await reviews.complete(identityOf(req), req.params.id, req.body.outcome, req.body.notes)),
    );
  };
}
