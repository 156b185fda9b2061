import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { durationText } from '../../config/config-schema.js';
import { phases } from '../../domain/access-request.js';
import type { RequestService } from '../../services/request-service.js';
import { accessRequestList, accessRequestResource, apiVersion, problem, toResource } from '../resources.js';
import { identityOf } from './authenticate.js';

const kubeName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$/, 'must be a Kubernetes object name');

const createBody = z.strictObject({
  apiVersion: z.literal(apiVersion).optional(),
  kind: z.literal('AccessRequest').optional(),
  metadata: z.strictObject({}).optional(),
  spec: z
    .strictObject({
      cluster: z.string().min(1, 'a cluster is required'),
      role: kubeName,
      roleKind: z.enum(['ClusterRole', 'Role']).default('ClusterRole'),
      namespace: z
        .string()
        .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a namespace name')
        .optional(),
      clusterWide: z.boolean().optional().describe('true for a ClusterRoleBinding instead of a namespace'),
      duration: durationText.describe('How long access lasts once active, Go style: 90s, 30m, 1h30m'),
      reason: z.string().trim().min(1, 'a reason is required').max(2000).describe('Why access is needed'),
      ticket: z.string().trim().min(1).max(200).optional().describe('Ticket or incident reference'),
    })
    .superRefine((s, ctx) => {
      if (s.namespace !== undefined && s.clusterWide) {
        ctx.addIssue({
          code: 'custom',
          path: ['clusterWide'],
          message: 'give a namespace or clusterWide, not both',
        });
      }
      if (s.namespace === undefined && !s.clusterWide) {
        ctx.addIssue({
          code: 'custom',
          path: ['namespace'],
          message: 'give a namespace, or clusterWide: true',
        });
      }
    }),
});

const nameParams = z.strictObject({ name: z.string().min(1) });
const commentBody = z.strictObject({ comment: z.string().max(2000).optional() }).default({});
const errors = { 400: problem, 401: problem, 403: problem, 404: problem, 409: problem, 503: problem };

export function accessRequestRoutes(requests: RequestService): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/accessrequests',
      {
        schema: {
          summary: 'Request access',
          tags: ['AccessRequest'],
          body: createBody,
          response: { 201: accessRequestResource, ...errors },
        },
      },
      async (req, reply) => {
        const { spec } = req.body;
        const created = await requests.create(identityOf(req), {
          cluster: spec.cluster,
          role: spec.role,
          roleKind: spec.roleKind,
          namespace: spec.clusterWide ? null : (spec.namespace ?? null),
          durationMs: spec.duration,
          reason: spec.reason,
          ticket: spec.ticket ?? null,
        });
        return reply.code(201).send(toResource(created));
      },
    );

    app.get(
      '/accessrequests',
      {
        schema: {
          summary: 'List the access requests the caller may see',
          tags: ['AccessRequest'],
          querystring: z.strictObject({ phase: z.enum(phases).optional() }),
          response: { 200: accessRequestList, ...errors },
        },
      },
      async (req) => {
        const items = await requests.list(identityOf(req), req.query.phase ? { phase: req.query.phase } : {});
        return { apiVersion, kind: 'AccessRequestList' as const, items: items.map(toResource) };
      },
    );

    app.get(
      '/accessrequests/:name',
      {
        schema: {
          summary: 'Read one access request',
          tags: ['AccessRequest'],
          params: nameParams,
          response: { 200: accessRequestResource, ...errors },
        },
      },
      async (req) => toResource(await requests.get(identityOf(req), req.params.name)),
    );

    app.post(
      '/accessrequests/:name/approve',
      {
        schema: {
          summary: 'Approve a pending request (approvers named by its policy; never the requester)',
          tags: ['AccessRequest'],
          params: nameParams,
          body: commentBody,
          response: { 200: accessRequestResource, ...errors },
        },
      },
      async (req) =>
        toResource(await requests.approve(identityOf(req), req.params.name, req.body.comment ?? null)),
    );

    app.post(
      '/accessrequests/:name/deny',
      {
        schema: {
          summary: 'Deny a pending request',
          tags: ['AccessRequest'],
          params: nameParams,
          body: commentBody,
          response: { 200: accessRequestResource, ...errors },
        },
      },
      async (req) =>
        toResource(await requests.deny(identityOf(req), req.params.name, req.body.comment ?? null)),
    );

    app.post(
      '/accessrequests/:name/revoke',
      {
        schema: {
          summary: 'End approved or active access now',
          tags: ['AccessRequest'],
          params: nameParams,
          body: z.strictObject({ reason: z.string().max(2000).optional() }).default({}),
          response: { 200: accessRequestResource, ...errors },
        },
      },
      async (req) =>
        toResource(await requests.revoke(identityOf(req), req.params.name, req.body.reason ?? null)),
    );

    app.post(
      '/accessrequests/:name/cancel',
      {
        schema: {
          summary: 'Withdraw a pending request',
          tags: ['AccessRequest'],
          params: nameParams,
          body: z.strictObject({}).default({}),
          response: { 200: accessRequestResource, ...errors },
        },
      },
      async (req) => toResource(await requests.cancel(identityOf(req), req.params.name)),
    );
  };
}
