import { z } from 'zod';
import {
  type AccessRequest,
  type DecisionExplanation,
  type Extension,
  extensionStates,
  phases,
} from '../domain/access-request.js';
import type { Emergency } from '../domain/breakglass.js';
import { formatDuration } from '../domain/duration.js';
import { credentialAccounts, grantMechanisms, mechanismOf } from '../domain/grant-mechanism.js';
import type { BindingSubject } from '../domain/subject.js';
import type { Target } from '../domain/target.js';
import type { TicketStatus } from '../domain/ticket.js';

export const apiVersion = 'elevate.dev/v1' as const;

const bindingRef = z.object({
  cluster: z.string(),
  kind: z.enum(['RoleBinding', 'ClusterRoleBinding']),
  name: z.string(),
  namespace: z.string().nullable(),
});

const condition = z.object({
  type: z.enum(['Approved', 'Granted']),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
});
type Condition = z.infer<typeof condition>;

interface ConditionState {
  status: Condition['status'];
  reason: string;
  since: Date;
}

function approvedState(r: AccessRequest): ConditionState {
  switch (r.phase) {
    case 'Pending':
      return { status: 'Unknown', reason: 'WaitingForApprovers', since: r.createdAt };
    case 'Denied':
    case 'TimedOut':
    case 'Canceled':
      return { status: 'False', reason: r.phase, since: r.updatedAt };
    default:
      return r.policy.decision === 'auto'
        ? { status: 'True', reason: 'PolicyAutoApproved', since: r.createdAt }
        : { status: 'True', reason: 'QuorumReached', since: r.approvals.at(-1)?.at ?? r.createdAt };
  }
}

function grantedState(r: AccessRequest): ConditionState {
  if (r.phase === 'Active' && r.grant) {
    // Access stays in effect until the binding is gone, even once a revocation is asked for.
    return {
      status: 'True',
      reason: r.revocation ? 'RevocationPending' : 'BindingPresent',
      since: r.grant.activatedAt,
    };
  }
  if (r.phase === 'Approved') return { status: 'False', reason: 'Activating', since: r.updatedAt };
  if (r.phase === 'Scheduled') return { status: 'False', reason: 'Scheduled', since: r.updatedAt };
  if (r.phase === 'Expired' || r.phase === 'Revoked')
    return { status: 'False', reason: r.phase, since: r.updatedAt };
  return { status: 'False', reason: 'NotApproved', since: r.createdAt };
}

/** Kubernetes-style conditions, derived from the request: was it approved, and is access in effect now. */
export function conditionsOf(r: AccessRequest): Condition[] {
  const states: [Condition['type'], ConditionState][] = [
    ['Approved', approvedState(r)],
    ['Granted', grantedState(r)],
  ];
  return states.map(([type, c]) => ({
    type,
    status: c.status,
    reason: c.reason,
    message: r.message,
    lastTransitionTime: c.since.toISOString(),
  }));
}

const targetFields = z.object({
  cluster: z.string(),
  role: z.string(),
  roleKind: z.enum(['ClusterRole', 'Role']),
  namespace: z.string().nullable(),
  clusterWide: z.boolean(),
});
const targetResource = targetFields.meta({ id: 'Target' });

/** status.decision: which policy decided, and for each one before it the first matcher that failed. */
export const decisionResource = z
  .object({
    outcome: z.enum(['auto', 'approval', 'refused']),
    policy: z.string().nullable().describe('The deciding policy; null when none matched'),
    source: z.string().nullable().describe('Where that policy is defined'),
    trace: z.array(
      z.object({
        policy: z.string(),
        source: z.string(),
        result: z.enum(['matched', 'skipped']),
        matcher: z.string().optional().describe('The first matcher that failed'),
        reason: z.string().optional(),
        target: targetResource.optional().describe('The target it failed for'),
      }),
    ),
    refusal: z
      .object({
        kind: z.enum(['guardrail', 'policy', 'no-match', 'constraint', 'limit']),
        message: z.string(),
        field: z.string().optional(),
        freesAt: z.string().optional().describe('When the limit that refused frees up'),
      })
      .nullable(),
    notes: z.array(z.string()).describe('What could not be judged'),
    requireMfa: z
      .boolean()
      .describe('The requester sends a fresh one-time code with the request (Elevate-OTP)'),
    approvalRequiresMfa: z
      .boolean()
      .describe('Each approver sends a fresh one-time code with their approval'),
  })
  .meta({ id: 'Decision' });

export function decisionOf(d: DecisionExplanation): z.infer<typeof decisionResource> {
  return {
    outcome: d.outcome,
    policy: d.policy?.name ?? null,
    source: d.policy?.source ?? null,
    trace: d.trace.map((t) => ({
      policy: t.policy,
      source: t.source,
      result: t.result,
      ...(t.matcher ? { matcher: t.matcher } : {}),
      ...(t.reason ? { reason: t.reason } : {}),
      ...(t.target ? { target: targetOf(t.target) } : {}),
    })),
    refusal: d.refusal
      ? {
          kind: d.refusal.kind,
          message: d.refusal.message,
          ...(d.refusal.field ? { field: d.refusal.field } : {}),
          ...(d.refusal.freesAt ? { freesAt: d.refusal.freesAt.toISOString() } : {}),
        }
      : null,
    notes: d.notes,
    requireMfa: d.requireMfa === true,
    approvalRequiresMfa: d.approvalRequiresMfa === true,
  };
}

/** Requests made before decisions were explained record only the policy's name. */
function decisionOfRequest(r: AccessRequest): z.infer<typeof decisionResource> {
  if (r.policy.explanation) return decisionOf(r.policy.explanation);
  return {
    outcome: r.policy.decision,
    policy: r.policy.name,
    source: null,
    trace: [],
    refusal: null,
    notes: [],
    requireMfa: false,
    approvalRequiresMfa: r.policy.approvalRequiresMfa === true,
  };
}

function targetOf(t: Target): z.infer<typeof targetFields> {
  return {
    cluster: t.cluster,
    role: t.role,
    roleKind: t.roleKind,
    namespace: t.namespace,
    clusterWide: t.namespace === null,
  };
}

const approvalResource = z.object({
  user: z.string(),
  decision: z.enum(['Approved', 'Denied']),
  comment: z.string().nullable(),
  time: z.string(),
});

/** One extension of a grant (status.extensions). */
const extensionResource = z
  .object({
    id: z.number().describe('1 for the first extension of this request, 2 for the second, …'),
    by: z.string().describe('How much longer, Go style'),
    reason: z.string().nullable(),
    requestedBy: z.string(),
    requestedAt: z.string(),
    state: z.enum(extensionStates),
    policy: z.string().describe('The policy that judged it (with the whole grant’s duration)'),
    requiredApprovals: z.number(),
    approvals: z.array(approvalResource),
    decidedAt: z.string().nullable(),
  })
  .meta({ id: 'Extension' });

function extensionOf(e: Extension): z.infer<typeof extensionResource> {
  return {
    id: e.id,
    by: formatDuration(e.byMs),
    reason: e.reason,
    requestedBy: e.requestedBy,
    requestedAt: e.requestedAt.toISOString(),
    state: e.state,
    policy: e.policy,
    requiredApprovals: e.required,
    approvals: e.approvals.map((a) => ({
      user: a.user,
      decision: a.decision,
      comment: a.comment,
      time: a.at.toISOString(),
    })),
    decidedAt: e.decidedAt?.toISOString() ?? null,
  };
}

const ticketResource = z
  .object({
    provider: z.string(),
    id: z.string(),
    checkedAt: z.string(),
    valid: z.boolean(),
    status: z.string().describe('The ticket system’s own words for its state'),
    notAfter: z.string().nullable().describe('The end of the ticket’s window: the grant never outlives it'),
    url: z.string().optional(),
    reason: z.string().optional().describe('Why the ticket is no longer valid'),
  })
  .meta({ id: 'TicketStatus' });

const emergencyResource = z
  .object({
    kind: z.enum(['breakglass', 'tickets-waived']),
    review: z.string().describe('The post-incident review it opened'),
    modeSince: z.string().optional().describe('For tickets-waived: when ticket-system-down mode went on'),
  })
  .meta({ id: 'Emergency' });

function ticketOf(t: TicketStatus): z.infer<typeof ticketResource> {
  return {
    provider: t.provider,
    id: t.id,
    checkedAt: t.checkedAt.toISOString(),
    valid: t.valid,
    status: t.status,
    notAfter: t.notAfter?.toISOString() ?? null,
    ...(t.url ? { url: t.url } : {}),
    ...(t.reason ? { reason: t.reason } : {}),
  };
}

function emergencyOf(e: Emergency): z.infer<typeof emergencyResource> {
  return {
    kind: e.kind,
    review: e.reviewId,
    ...(e.kind === 'tickets-waived' ? { modeSince: e.modeSince.toISOString() } : {}),
  };
}

const bindingSubject = z.object({
  kind: z.enum(['User', 'ServiceAccount']),
  name: z.string(),
  namespace: z.string().optional(),
});

/** Requests made before subjects were recorded name the requester as a User everywhere. */
function subjectsOf(r: AccessRequest): Record<string, BindingSubject> {
  const out: Record<string, BindingSubject> = {};
  for (const { cluster } of r.spec.targets) {
    out[cluster] = r.spec.subjects?.[cluster] ?? { kind: 'User', name: r.spec.requester };
  }
  return out;
}

/**
 * An AccessRequest as the API shows it: shaped like a Kubernetes object. spec.cluster, role, roleKind,
 * namespace and clusterWide are the first target's, as they were when a request had only one; `targets`
 * lists them all.
 */
export const accessRequestResource = z
  .object({
    apiVersion: z.literal(apiVersion),
    kind: z.literal('AccessRequest'),
    metadata: z.object({ name: z.string(), creationTimestamp: z.string(), resourceVersion: z.string() }),
    spec: z.object({
      requester: z.string(),
      ...targetFields.shape,
      targets: z.array(targetResource).describe('Everything granted, together: one binding per target'),
      profile: z.string().nullable().describe('The profile the targets were taken from'),
      duration: z.string(),
      reason: z.string(),
      ticket: z.string().nullable(),
      startTime: z.string().nullable().describe('When access is to begin; null: as soon as approved'),
      subjects: z
        .record(z.string(), bindingSubject)
        .describe(
          "By cluster: who that cluster's bindings name, exactly as its API server knows the requester",
        ),
      requesterSource: z
        .string()
        .describe('How the requester signed in: token-file, oidc, kubernetes or api-token'),
      requestedBy: z
        .string()
        .nullable()
        .describe('The integration identity that asked on the requester’s behalf; null: the requester did'),
      via: z.string().nullable().describe('That integration’s name (integrations[].name)'),
    }),
    status: z.object({
      phase: z.enum(phases),
      policy: z.string(),
      decision: decisionResource,
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
        .object({
          mechanism: z
            .enum(grantMechanisms)
            .describe(
              'binding: the person is bound; credential: a per-grant ServiceAccount is, and its tokens used',
            ),
          bindings: z.array(bindingRef),
          serviceAccounts: z
            .array(z.string())
            .describe('credential: the grant’s ServiceAccounts, as CLUSTER/NAMESPACE/NAME'),
          activatedAt: z.string(),
          expiresAt: z.string(),
        })
        .nullable(),
      revocation: z.object({ by: z.string(), reason: z.string().nullable(), time: z.string() }).nullable(),
      extensions: z.array(extensionResource).describe('Extensions asked for, oldest first'),
      conditions: z.array(condition),
      message: z.string(),
      ticket: ticketResource.nullable().describe('The ticket as its provider last judged it'),
      emergency: emergencyResource
        .nullable()
        .describe('Set on break-glass grants and grants made while tickets were waived; each has a review'),
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
      ...targetOf(r.spec.targets[0] as Target),
      targets: r.spec.targets.map(targetOf),
      profile: r.spec.profile,
      duration: formatDuration(r.spec.durationMs),
      reason: r.spec.reason,
      ticket: r.spec.ticket,
      startTime: r.spec.startTime?.toISOString() ?? null,
      subjects: subjectsOf(r),
      requesterSource: (r.spec.requesterSource ?? { kind: 'token-file' }).kind,
      requestedBy: r.spec.requestedBy ?? null,
      via: r.spec.via ?? null,
    },
    status: {
      phase: r.phase,
      policy: r.policy.name,
      decision: decisionOfRequest(r),
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
            mechanism: mechanismOf(r),
            bindings: r.grant.bindings,
            serviceAccounts: credentialAccounts(r).map((a) => `${a.cluster}/${a.namespace}/${a.name}`),
            activatedAt: r.grant.activatedAt.toISOString(),
            expiresAt: r.grant.expiresAt.toISOString(),
          }
        : null,
      revocation: r.revocation
        ? { by: r.revocation.by, reason: r.revocation.reason, time: r.revocation.at.toISOString() }
        : null,
      extensions: r.extensions.map(extensionOf),
      conditions: conditionsOf(r),
      message: r.message,
      ticket: r.ticket ? ticketOf(r.ticket) : null,
      emergency: r.emergency ? emergencyOf(r.emergency) : null,
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
    request: z.string().optional().describe('A refused request, recorded as Denied under this name'),
    decision: decisionResource.optional().describe('Why policy refused the request'),
  })
  .meta({ id: 'Problem' });
