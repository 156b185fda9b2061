import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ClusterDirectory } from '../../services/ports.js';
import { authProblems, problems } from '../openapi.js';

const cluster = z.object({
  name: z.string().describe('What a request names in spec.cluster'),
  labels: z.record(z.string(), z.string()).describe("Matched by policies' clusterSelector"),
  source: z.string().describe('`config` for clusters[] in the file, else `secret NAMESPACE/NAME`'),
});

/** The clusters a request may name now, for anyone signed in: where can I ask? */
export function clusterRoutes(directory: Pick<ClusterDirectory, 'all'>): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/clusters',
      {
        schema: {
          summary: 'The clusters Elevate manages now (the config file’s and those from cluster Secrets)',
          tags: ['Clusters'],
          operationId: 'listClusters',
          response: {
            200: z.object({ items: z.array(cluster) }),
            ...problems(...authProblems),
          },
        },
      },
      async () => ({ items: directory.all().map(({ name, labels, source }) => ({ name, labels, source })) }),
    );
  };
}
