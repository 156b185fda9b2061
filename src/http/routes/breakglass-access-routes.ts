import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { BreakGlassAccessService } from '../../services/breakglass-access-service.js';
import { authProblems, bodyProblems, problems } from '../openapi.js';
import { plainText } from '../request-fields.js';
import { accessRequestList, apiVersion, toResource } from '../resources.js';
import { identityOf } from './authenticate.js';

const profileName = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a profile name (a DNS label: a-z, 0-9, -)');

/** The BreakGlassAccess payload exactly as Rafay documents it (../shared/reference/rafay-break-glass-workflows). */
const breakGlassAccess = z
  .strictObject({
    apiVersion: z.literal('system.k8smgmt.io/v3'),
    kind: z.literal('BreakGlassAccess'),
    metadata: z.looseObject({
      name: plainText(256, { required: true, what: 'the user' }).describe('The user who gets access'),
    }),
    spec: z.strictObject({
      groups: z
        .array(
          z.strictObject({
            groupExpiry: z
              .array(
                z.strictObject({
                  name: profileName.describe('An access profile (profiles[].name)'),
                  expiry: z.number().positive().max(8784).describe('How long, in hours'),
                  startTime: z.iso
                    .datetime({ offset: true })
                    .describe('When access begins, RFC 3339; now or in the past means now'),
                }),
              )
              .min(1)
              .max(50),
            userType: z
              .string()
              .max(64)
              .optional()
              .describe('Rafay’s user type (local, sso); recorded, not used'),
          }),
        )
        .min(1)
        .max(20),
    }),
  })
  .meta({ id: 'BreakGlassAccess' });

const userParams = z.strictObject({ user: plainText(256, { required: true, what: 'the user' }) });

/**
 * `/apis/system.k8smgmt.io/v3/breakglassaccess`: Rafay's break-glass API for ticket systems that already
 * call it (ServiceNow, Jira automation), answered with Elevate AccessRequests. Integrations only.
 */
export function breakGlassAccessRoutes(service: BreakGlassAccessService): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/breakglassaccess',
      {
        schema: {
          summary: 'Grant a user access profiles for some hours (Rafay BreakGlassAccess; integrations only)',
          description:
            'Each spec.groups[].groupExpiry[] entry becomes an AccessRequest made on the user’s behalf for profile ' +
            '`name`, `expiry` hours from `startTime`, judged by policy with match.via naming the integration. ' +
            'Posting the same payload again creates nothing (an entry is unique by user, profile and startTime): ' +
            '201 when something was created, 200 when all of it existed. Nothing is created unless every entry ' +
            'would be granted.',
          operationId: 'createBreakGlassAccess',
          tags: ['BreakGlassAccess'],
          body: breakGlassAccess,
          response: {
            200: accessRequestList,
            201: accessRequestList,
            ...problems(...authProblems, 403, 404, 409, ...bodyProblems),
          },
        },
      },
      async (req, reply) => {
        const user = req.body.metadata.name;
        const entries = req.body.spec.groups.flatMap((g, i) =>
          g.groupExpiry.map((e, j) => ({
            field: `spec.groups[${i}].groupExpiry[${j}]`,
            profile: e.name,
            hours: e.expiry,
            startTime: e.startTime,
          })),
        );
        const { requests, created } = await service.grant(identityOf(req), user, entries);
        return reply
          .code(created > 0 ? 201 : 200)
          .send({ apiVersion, kind: 'AccessRequestList' as const, items: requests.map(toResource) });
      },
    );

    app.delete(
      '/breakglassaccess/:user',
      {
        schema: {
          summary: 'Take back everything granted to the user through BreakGlassAccess (integrations only)',
          description: 'Active, approved and scheduled grants are revoked; pending requests are canceled.',
          operationId: 'deleteBreakGlassAccess',
          tags: ['BreakGlassAccess'],
          params: userParams,
          response: { 200: accessRequestList, ...problems(...authProblems, 403, 404, 409) },
        },
      },
      async (req) => {
        const ended = await service.revokeAll(identityOf(req), req.params.user);
        return { apiVersion, kind: 'AccessRequestList' as const, items: ended.map(toResource) };
      },
    );
  };
}
