import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Invalid } from '../../domain/errors.js';
import type { ActivityCapture } from '../../services/activity-capture.js';
import { type ClusterTokenCheck, requireClusterToken } from '../cluster-token-check.js';
import { problems } from '../openapi.js';

/** An API server's audit batch: 400 events of 1-2 KB by default, more when configured. */
const bodyLimit = 64 * 1024 * 1024;

const eventList = z
  .object({
    apiVersion: z.literal('audit.k8s.io/v1'),
    kind: z.literal('EventList'),
    // Each event is read field by field by the attribution; validating every one here would cost more.
    items: z.array(z.unknown().describe('an audit.k8s.io/v1 Event')).nullable(),
  })
  .describe('An audit.k8s.io/v1 EventList, as the API server’s audit webhook backend sends it');

/**
 * `POST /api/v1/activity/kube-audit/{cluster}`: the audit webhook backend of a cluster's API server.
 * Authenticated per cluster by the bearer token of clusters[].activity.tokenFile, outside the people's
 * bearer scope. Parsed with plain JSON.parse on the raw buffer: nothing here merges the objects, and at tens
 * of thousands of events a second the parse is most of the work.
 */
export function activityIngestRoutes(
  capture: ActivityCapture,
  checkToken: ClusterTokenCheck,
): FastifyPluginAsyncZod {
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => {
      try {
        done(null, JSON.parse((body as Buffer).toString('utf8')));
      } catch {
        done(new Invalid('the body is not valid JSON'), undefined);
      }
    });
    requireClusterToken(app, checkToken, 'this cluster sends no audit events here, or not with this token');
    app.post(
      '/activity/kube-audit/:cluster',
      {
        bodyLimit,
        schema: {
          summary: 'Audit events of a cluster’s API server (its audit webhook backend)',
          description:
            'Events by a user holding an Active grant on that cluster, in its scope, are recorded as the ' +
            'grant’s activity (`elevate activity ID`); the rest are counted and dropped. Authenticated by the ' +
            'bearer token of clusters[].activity.tokenFile, which the API server’s --audit-webhook-config-file ' +
            'sends.',
          tags: ['Activity'],
          operationId: 'ingestKubeAudit',
          security: [{ bearer: [] }],
          params: z.object({ cluster: z.string().describe('clusters[].name') }),
          body: eventList,
          response: {
            200: z.object({
              received: z.number().int(),
              attributed: z.number().int(),
              recorded: z.number().int(),
            }),
            ...problems(400, 401, 413, 415, 429),
          },
        },
      },
      async (req) => capture.ingest(req.params.cluster, req.body.items ?? []),
    );
  };
}
