import { z } from 'zod';
import { formatDuration } from '../../domain/duration.js';
import type { DurationLimits } from '../../domain/policy.js';
import { durationField, namespaceName, plainText, requestId, roleName } from '../request-fields.js';
import { apiVersion } from '../resources.js';

export interface AccessRequestContract {
  /** The clusters a request may name. */
  clusterNames: string[];
  limits: DurationLimits;
}

/**
 * The spec is one of two shapes, so that the schema itself says what the server accepts: a namespaced
 * grant (Role or ClusterRole) or a cluster-wide one (ClusterRole only).
 */
export function createBody({ clusterNames, limits }: AccessRequestContract) {
  const common = {
    cluster: z.enum(clusterNames as [string, ...string[]], {
      error: `must be one of the configured clusters: ${clusterNames.join(', ')}`,
    }),
    role: roleName,
    duration: durationField({
      min: formatDuration(limits.minDurationMs),
      max: formatDuration(limits.maxDurationMs),
    }),
    reason: plainText(2000, { required: true, what: 'a reason' }).describe('Why access is needed'),
    ticket: plainText(200, { required: true, what: 'a ticket' })
      .optional()
      .describe('Ticket or incident reference'),
  };
  const namespaced = z.strictObject({
    ...common,
    roleKind: z.enum(['ClusterRole', 'Role']).default('ClusterRole'),
    namespace: namespaceName.describe('The namespace the RoleBinding is written in'),
    clusterWide: z.literal(false).optional(),
  });
  const clusterWide = z.strictObject(
    {
      ...common,
      roleKind: z
        .literal('ClusterRole', { error: 'a Role is namespaced: give a namespace, not clusterWide' })
        .default('ClusterRole'),
      clusterWide: z.literal(true).describe('A ClusterRoleBinding instead of a namespace'),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys' && issue.keys.includes('namespace')
          ? 'give a namespace or clusterWide: true, not both'
          : undefined,
    },
  );
  return z.strictObject({
    apiVersion: z.literal(apiVersion).optional(),
    kind: z.literal('AccessRequest').optional(),
    metadata: z.strictObject({}).optional(),
    spec: z.discriminatedUnion('clusterWide', [namespaced, clusterWide]),
  });
}

export const nameParams = z.strictObject({ name: requestId });
