import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { phases } from '../../domain/access-request.js';
import type { RequestService } from '../../services/request-service.js';
import { authProblems, bodyProblems, problems } from '../openapi.js';
import { accessRequestList, accessRequestResource, apiVersion, toResource } from '../resources.js';
import { accessRequestActions } from './access-request-actions.js';
import { type AccessRequestContract, createBody, nameParams, requestInput } from './access-request-body.js';
import { identityOf } from './authenticate.js';
import { otpHeaders, otpOf } from './mfa-routes.js';

const createdLinks = Object.fromEntries(
  [
    ...['get', 'approve', 'deny', 'revoke', 'cancel', 'extend'].map((action) => [
      action,
      `${action}AccessRequest`,
    ]),
    ['approveExtension', 'approveAccessRequestExtension'],
    ['denyExtension', 'denyAccessRequestExtension'],
  ].map(([link, operationId]) => [
    link,
    { operationId, parameters: { name: '$response.body#/metadata/name' } },
  ]),
);

export function accessRequestRoutes(
  requests: RequestService,
  contract: AccessRequestContract,
): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/accessrequests',
      {
        // What a client (and schemathesis's stateful phase) can do next with the request just created.
        links: { 201: createdLinks },
        schema: {
          summary: 'Request access',
          operationId: 'createAccessRequest',
          tags: ['AccessRequest'],
          querystring: z.strictObject({
            dryRun: z
              .literal('All')
              .optional()
              .describe(
                'As in Kubernetes: judge the request (live namespace labels and role rules, limits) and answer ' +
                  'with the request as it would be made (200, status.decision), creating nothing',
              ),
          }),
          headers: otpHeaders,
          body: createBody(contract),
          response: {
            200: accessRequestResource,
            201: accessRequestResource,
            ...problems(...authProblems, 403, 404, ...bodyProblems, 502, 503),
          },
        },
      },
      async (req, reply) => {
        // A dry run never uses up a code: it judges, and the decision says whether one will be needed.
        const input = { ...requestInput(req.body.spec), ...otpOf(req.headers) };
        if (req.query.dryRun)
          return reply.code(200).send(toResource(await requests.dryRun(identityOf(req), input)));
        return reply.code(201).send(toResource(await requests.create(identityOf(req), input)));
      },
    );

    app.get(
      '/accessrequests',
      {
        schema: {
          summary: 'List the access requests the caller may see',
          operationId: 'listAccessRequests',
          tags: ['AccessRequest'],
          querystring: z.strictObject({ phase: z.enum(phases).optional() }),
          response: { 200: accessRequestList, ...problems(...authProblems) },
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
          operationId: 'getAccessRequest',
          tags: ['AccessRequest'],
          params: nameParams,
          response: { 200: accessRequestResource, ...problems(...authProblems, 403, 404) },
        },
      },
      async (req) => toResource(await requests.get(identityOf(req), req.params.name)),
    );
    await app.register(accessRequestActions(requests));
  };
}
