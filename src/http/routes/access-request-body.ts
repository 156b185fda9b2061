import { z } from 'zod';
import { formatDuration } from '../../domain/duration.js';
import type { DurationLimits } from '../../domain/policy/types.js';
import type { Target } from '../../domain/target.js';
import type { RequestInput } from '../../services/request-service.js';
import {
  clusterName,
  durationField,
  namespaceName,
  plainText,
  requestId,
  roleName,
} from '../request-fields.js';
import { apiVersion } from '../resources.js';

export interface AccessRequestContract {
  /** The clusters a request may name. */
  clusterNames: () => string[];
  limits: DurationLimits;
}

/**
 * A scheduled start. Its bounds move with the clock, so the schema cannot state them: like the configured
 * duration bounds, a start outside them is refused with 403 (the request is well formed; it is not allowed).
 */
const startTimeField = z.iso
  .datetime({ offset: true })
  .optional()
  .describe(
    'When access is to begin, RFC 3339 with Z or an offset (e.g. 2026-03-01T09:00:00+01:00). The request ' +
      'is approved as usual and waits in phase Scheduled; its bindings are written at this time and the ' +
      'duration counts from then. At most limits.maxScheduleAhead (default 7 days) ahead, and not in the ' +
      'past (a start up to 60 s ago means now); a start outside those bounds is refused with 403.',
  );

/** More targets than this in one request is a mistake, not a grant (a profile is the way to bundle). */
export const maxTargets = 50;

/**
 * A target is one of two shapes, so that the schema itself says what the server accepts: a namespaced grant
 * (Role or ClusterRole) or a cluster-wide one (ClusterRole only). The spec is either one target with the
 * grant's fields beside it (the original shape), or `targets` listing several.
 */
export function createBody({ clusterNames, limits }: AccessRequestContract) {
  const where = {
    cluster: clusterName(clusterNames),
    role: roleName,
  };
  const namespaced = {
    ...where,
    roleKind: z.enum(['ClusterRole', 'Role']).default('ClusterRole'),
    namespace: namespaceName.describe('The namespace the RoleBinding is written in'),
    clusterWide: z.literal(false).optional(),
  };
  const clusterWide = {
    ...where,
    roleKind: z
      .literal('ClusterRole', { error: 'a Role is namespaced: give a namespace, not clusterWide' })
      .default('ClusterRole'),
    clusterWide: z.literal(true).describe('A ClusterRoleBinding instead of a namespace'),
  };
  const notBoth = {
    error: (issue: z.core.$ZodRawIssue) =>
      issue.code === 'unrecognized_keys' && issue.keys.includes('namespace')
        ? 'give a namespace or clusterWide: true, not both'
        : undefined,
  };
  const grant = {
    duration: durationField({
      min: formatDuration(limits.minDurationMs),
      max: formatDuration(limits.maxDurationMs),
    }).optional(),
    reason: plainText(2000, { required: true, what: 'a reason' }).describe('Why access is needed'),
    ticket: plainText(200, { required: true, what: 'a ticket' })
      .optional()
      .describe('Ticket or incident reference'),
    startTime: startTimeField,
    requester: plainText(256, { required: true, what: 'a user name' })
      .optional()
      .describe(
        'Ask for this person instead of the caller: integrations only (integrations[]), for the people their ' +
          'mayRequestFor names; judged as the person’s request, with match.via naming the integration',
      ),
  };
  const oneTarget = z.discriminatedUnion('clusterWide', [
    z.strictObject({ ...namespaced, ...grant }),
    z.strictObject({ ...clusterWide, ...grant }, notBoth),
  ]);
  const target = z
    .discriminatedUnion('clusterWide', [z.strictObject(namespaced), z.strictObject(clusterWide, notBoth)])
    .meta({ id: 'TargetSpec' });
  const severalTargets = z.strictObject({
    targets: z
      .array(target)
      .min(1)
      .max(maxTargets)
      .describe('Granted together: one binding each, written and removed as one grant'),
    ...grant,
  });
  const profile = z.strictObject({
    profile: z
      .string()
      .max(63)
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a profile name (a DNS label: a-z, 0-9, -)')
      .describe("A profile's name: its targets, granted together"),
    ...grant,
  });
  return z.strictObject({
    apiVersion: z.literal(apiVersion).optional(),
    kind: z.literal('AccessRequest').optional(),
    metadata: z.strictObject({}).optional(),
    spec: z.union([oneTarget, severalTargets, profile]),
  });
}

type BodySpec = z.infer<ReturnType<typeof createBody>>['spec'];

/** What a valid body asks for: its targets (none when a profile names them), profile and the grant's fields. */
export function requestInput(spec: BodySpec): RequestInput {
  return {
    ...(spec.requester !== undefined ? { onBehalfOf: spec.requester } : {}),
    targets: 'profile' in spec ? [] : targetsOf(spec),
    profile: 'profile' in spec ? spec.profile : null,
    durationMs: spec.duration ?? null,
    reason: spec.reason,
    ticket: spec.ticket ?? null,
    startTime: spec.startTime ? new Date(spec.startTime) : null,
  };
}

/** The targets a valid body asks for, in the order given. */
function targetsOf(spec: Exclude<BodySpec, { profile: string }>): Target[] {
  const list = 'targets' in spec ? spec.targets : [spec];
  return list.map((t) => ({
    cluster: t.cluster,
    role: t.role,
    roleKind: t.roleKind,
    namespace: t.clusterWide ? null : t.namespace,
  }));
}

export const nameParams = z.strictObject({ name: requestId });
