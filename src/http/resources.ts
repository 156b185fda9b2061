import { z } from 'zod';
import { type AccessRequest, phases } from '../domain/access-request.js';
import { formatDuration } from '../domain/duration.js';

export const apiVersion = 'elevate.dev/v1' as const;

const bindingRef = z.object({
  kind: z.enum(['RoleBinding', 'ClusterRoleBinding']),
  name: z.string(),
  namespace: z.string().nullable(),
});

/** An AccessRequest as the API shows it: shaped like a Kubernetes object. */
export const accessRequestResource = z
  .object({
    apiVersion: z.literal(apiVersion),
    kind: z.literal('AccessRequest'),
    metadata: z.object({ name: z.string(), creationTimestamp: z.string(), resourceVersion: z.string() }),
    spec: z.object({
      requester: z.string(),
      cluster: z.string(),
      role: z.string(),
      roleKind: z.enum(['ClusterRole', 'Role']),
      namespace: z.string().nullable(),
      clusterWide: z.boolean(),
      duration: z.string(),
      reason: z.string(),
      ticket: z.string().nullable(),
    }),
    status: z.object({
      phase: z.enum(phases),
      policy: z.string(),
      requiredApprovals: z.number(),
      approvals: z.array(
        z.object({
          user: z.string(),
          decision: z.enum(['Approved', 'Denied']),
          comment: z.string().nullable(),
          time: z.string(),
        }),
      ),
      approvalDeadline: z.string().nullable(),
      grant: z
        .object({ bindings: z.array(bindingRef), activatedAt: z.string(), expiresAt: z.string() })
        .nullable(),
      revocation: z.object({ by: z.string(), reason: z.string().nullable(), time: z.string() }).nullable(),
      message: z.string(),
    }),
  })
  .meta({ id: 'AccessRequest' });

export type AccessRequestResource = z.infer<typeof accessRequestResource>;

export const accessRequestList = z
  .object({
    apiVersion: z.literal(apiVersion),
    kind: z.literal('AccessRequestList'),
    items: z.array(accessRequestResource),
  })
  .meta({ id: 'AccessRequestList' });

export function toResource(r: AccessRequest): AccessRequestResource {
  return {
    apiVersion,
    kind: 'AccessRequest',
    metadata: {
      name: r.id,
      creationTimestamp: r.createdAt.toISOString(),
      resourceVersion: String(r.version),
    },
    spec: {
      requester: r.spec.requester,
      cluster: r.spec.cluster,
      role: r.spec.role,
      roleKind: r.spec.roleKind,
      namespace: r.spec.namespace,
      clusterWide: r.spec.namespace === null,
      duration: formatDuration(r.spec.durationMs),
      reason: r.spec.reason,
      ticket: r.spec.ticket,
    },
    status: {
      phase: r.phase,
      policy: r.policy.name,
      requiredApprovals: r.policy.required,
      approvals: r.approvals.map((a) => ({
        user: a.user,
        decision: a.decision,
        comment: a.comment,
        time: a.at.toISOString(),
      })),
      approvalDeadline: r.phase === 'Pending' ? (r.policy.approvalDeadline?.toISOString() ?? null) : null,
      grant: r.grant
        ? {
            bindings: r.grant.bindings,
            activatedAt: r.grant.activatedAt.toISOString(),
            expiresAt: r.grant.expiresAt.toISOString(),
          }
        : null,
      revocation: r.revocation
        ? { by: r.revocation.by, reason: r.revocation.reason, time: r.revocation.at.toISOString() }
        : null,
      message: r.message,
    },
  };
}

export const problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number(),
    detail: z.string(),
    field: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem' });
