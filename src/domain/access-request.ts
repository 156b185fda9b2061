import { Conflict, Forbidden } from './errors.js';
import { type Identity, isAmong, type Principals } from './identity.js';
import type { RoleKind, Target } from './target.js';

export type { RoleKind, Target };

export const phases = [
  'Pending',
  'Approved',
  'Active',
  'Expired',
  'Revoked',
  'Denied',
  'Canceled',
  'TimedOut',
] as const;
export type Phase = (typeof phases)[number];

/**
 * The only transitions a request may take. Approved → Revoked exists because
 * "revoke works at any time": a grant whose binding is still being written
 * (e.g. the cluster is unreachable) must be stoppable too.
 */
const allowedTransitions: Record<Phase, readonly Phase[]> = {
  Pending: ['Approved', 'Denied', 'Canceled', 'TimedOut'],
  Approved: ['Active', 'Revoked'],
  Active: ['Expired', 'Revoked'],
  Expired: [],
  Revoked: [],
  Denied: [],
  Canceled: [],
  TimedOut: [],
};

export function canTransition(from: Phase, to: Phase): boolean {
  return allowedTransitions[from].includes(to);
}

export interface AccessRequestSpec {
  requester: string;
  /** The requester's groups when they asked; policies matched on these. */
  requesterGroups: string[];
  /** What is granted, together: one binding per target, written and removed as one. At least one. */
  targets: Target[];
  /** The profile the targets were taken from, or null when they were asked for one by one. */
  profile: string | null;
  durationMs: number;
  reason: string;
  ticket: string | null;
}

/** What the deciding policy said, frozen on the request so later config edits don't rewrite history. */
export interface PolicyDecisionRecord {
  name: string;
  decision: 'auto' | 'approval';
  approvers: Principals;
  required: number;
  /** When a pending request times out. */
  approvalDeadline: Date | null;
}

export interface Approval {
  user: string;
  decision: 'Approved' | 'Denied';
  comment: string | null;
  at: Date;
}

export interface BindingRef {
  cluster: string;
  kind: 'RoleBinding' | 'ClusterRoleBinding';
  name: string;
  namespace: string | null;
}

export interface Grant {
  bindings: BindingRef[];
  activatedAt: Date;
  expiresAt: Date;
}

/** An asked-for end of access that is waiting for the binding to be removed. */
export interface RevocationIntent {
  by: string;
  reason: string | null;
  at: Date;
}

export interface AccessRequest {
  id: string;
  createdAt: Date;
  updatedAt: Date;
  /** Optimistic concurrency: bumped by every save. */
  version: number;
  spec: AccessRequestSpec;
  policy: PolicyDecisionRecord;
  phase: Phase;
  approvals: Approval[];
  grant: Grant | null;
  revocation: RevocationIntent | null;
  message: string;
}

export function transition(request: AccessRequest, to: Phase, now: Date, message: string): AccessRequest {
  if (!canTransition(request.phase, to)) {
    throw new Conflict(`request ${request.id} is ${request.phase} and cannot become ${to}`);
  }
  return { ...request, phase: to, message, updatedAt: now };
}

export function isApprover(request: AccessRequest, identity: Identity): boolean {
  return identity.user !== request.spec.requester && isAmong(identity, request.policy.approvers);
}

/** Records one approver's yes; the request becomes Approved once the quorum of distinct approvers is reached. */
export function approve(
  request: AccessRequest,
  approver: Identity,
  comment: string | null,
  now: Date,
): AccessRequest {
  const approvals = recordDecision(request, approver, 'Approved', comment, now);
  const count = approvalUsers(approvals).length;
  const updated = { ...request, approvals, updatedAt: now };
  if (count >= request.policy.required) {
    return transition(updated, 'Approved', now, `approved by ${approvalUsers(approvals).join(', ')}`);
  }
  return { ...updated, message: `${count} of ${request.policy.required} approvals` };
}

export function deny(
  request: AccessRequest,
  approver: Identity,
  comment: string | null,
  now: Date,
): AccessRequest {
  const approvals = recordDecision(request, approver, 'Denied', comment, now);
  return transition(
    { ...request, approvals },
    'Denied',
    now,
    `denied by ${approver.user}${comment ? `: ${comment}` : ''}`,
  );
}

/** The approvals list with one more decision, after checking the approver may make it. */
function recordDecision(
  request: AccessRequest,
  approver: Identity,
  decision: Approval['decision'],
  comment: string | null,
  now: Date,
): Approval[] {
  assertCanDecide(request, approver);
  return [...request.approvals, { user: approver.user, decision, comment, at: now }];
}

function assertCanDecide(request: AccessRequest, approver: Identity): void {
  if (approver.user === request.spec.requester) {
    throw new Forbidden('a requester cannot approve or deny their own request');
  }
  if (!isAmong(approver, request.policy.approvers)) {
    throw new Forbidden(
      `${approver.user} is not an approver for request ${request.id} (policy ${request.policy.name})`,
    );
  }
  if (request.phase !== 'Pending') {
    throw new Conflict(`request ${request.id} is ${request.phase}, not Pending`);
  }
  if (request.approvals.some((a) => a.user === approver.user)) {
    throw new Conflict(`${approver.user} has already decided on request ${request.id}`);
  }
}

/** The distinct users who approved. */
function approvalUsers(approvals: Approval[]): string[] {
  return [...new Set(approvals.filter((a) => a.decision === 'Approved').map((a) => a.user))];
}

/** Starts the clock on a grant once its bindings exist. */
export function activate(request: AccessRequest, bindings: BindingRef[], now: Date): AccessRequest {
  const expiresAt = new Date(now.getTime() + request.spec.durationMs);
  return {
    ...transition(request, 'Active', now, `active until ${expiresAt.toISOString()}`),
    grant: { bindings, activatedAt: now, expiresAt },
  };
}

/** True when access should end now: expired, or someone asked for it to end. */
export function isDueForRemoval(request: AccessRequest, now: Date): boolean {
  if (request.phase !== 'Active' && request.phase !== 'Approved') return false;
  if (request.revocation) return true;
  return request.phase === 'Active' && request.grant !== null && request.grant.expiresAt <= now;
}

/** When something is next due for a request (activation, expiry, revocation, approval deadline); null when nothing ever will be. */
export function nextDueAt(request: AccessRequest): Date | null {
  switch (request.phase) {
    case 'Approved':
      return new Date(0);
    case 'Active':
      return request.revocation ? new Date(0) : (request.grant?.expiresAt ?? new Date(0));
    case 'Pending':
      return request.policy.approvalDeadline;
    default:
      return null;
  }
}
