import type { Emergency } from './breakglass.js';
import { formatDuration } from './duration.js';
import { Conflict, Forbidden, Invalid } from './errors.js';
import { type Identity, type IdentitySource, isAmong, type Principals } from './identity.js';
import type { Decision } from './policy/types.js';
import type { BindingSubject } from './subject.js';
import type { RoleKind, Target } from './target.js';
import type { TicketStatus } from './ticket.js';

export type { RoleKind, Target };

export const phases = [
  'Pending',
  'Approved',
  'Scheduled',
  'Active',
  'Expired',
  'Revoked',
  'Denied',
  'Canceled',
  'TimedOut',
] as const;
export type Phase = (typeof phases)[number];

/** Phases in which a grant stands (approved, waiting for its start, or in effect): what limits count. */
export const grantPhases: readonly Phase[] = ['Approved', 'Scheduled', 'Active'];

/**
 * The only transitions a request may take. Approved → Revoked exists because
 * "revoke works at any time": a grant whose binding is still being written
 * (e.g. the cluster is unreachable) must be stoppable too. Scheduled is an
 * approval waiting for its start time: no binding exists yet, so it can be
 * revoked, or canceled by its requester.
 */
const allowedTransitions: Record<Phase, readonly Phase[]> = {
  Pending: ['Approved', 'Denied', 'Canceled', 'TimedOut'],
  // Denied: the guardrails are judged again right before the bindings are written (a role may have
  // changed since the request was made).
  Approved: ['Scheduled', 'Active', 'Revoked', 'Denied'],
  Scheduled: ['Active', 'Revoked', 'Canceled', 'Denied'],
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
  /** When access is to begin; null: as soon as approved. The duration counts from activation either way. */
  startTime: Date | null;
  /** How the requester signed in; absent on requests made before there were several sources (token file). */
  requesterSource?: IdentitySource;
  /**
   * The subject each cluster's bindings name, by cluster, fixed when the request is made (a later change of
   * clusters[].subjects does not rename a grant). Absent: User named like the requester.
   */
  subjects?: Record<string, BindingSubject>;
  /** How the grant gives access (grant-mechanism.ts); absent: bindings to the requester. */
  mechanism?: 'credential' | 'webhook';
  /**
   * Granted by `credential` (grant-mechanism.ts): the namespace of each cluster where the grant's own
   * ServiceAccount lives, and which its bindings name. Absent: granted by bindings to the requester.
   */
  credentialNamespaces?: Record<string, string>;
  /**
   * The integration identity that asked on the requester's behalf (integrations[]: a ticket system, a chat
   * bot); absent: the requester asked themselves.
   */
  requestedBy?: string;
  /** The name of that integration (integrations[].name), which policies match with `match.via`. */
  via?: string;
  /**
   * What makes a request from outside unique, so the same call made twice creates it once (a Rafay
   * BreakGlassAccess entry: `breakglassaccess:USER:PROFILE:START`).
   */
  externalKey?: string;
}

/** What the deciding policy said, frozen on the request so later config edits don't rewrite history. */
export interface PolicyDecisionRecord {
  /** The deciding policy; '' when none did (no match, or a guardrail refused first). */
  name: string;
  decision: 'auto' | 'approval' | 'refused';
  approvers: Principals;
  required: number;
  /** When a pending request times out. */
  approvalDeadline: Date | null;
  /** One deny ends the request (true), or denials are recorded and the quorum may still come (false). */
  denyEnds: boolean;
  requireComment: boolean;
  /**
   * Escalating roles the deciding policy allowed, for the guardrail check again before each binding is
   * written. Absent on requests made before role rules were judged: those are not judged again.
   */
  allowEscalatingRoles?: string[];
  /** Why it was decided so: the trace of the policies considered. Absent on requests made before traces. */
  explanation?: DecisionExplanation;
  /**
   * Each approver must send a fresh one-time code (approval.requireMfa when the request was made, so a
   * later config edit does not change what its approvals need). Absent (older requests): false.
   */
  approvalRequiresMfa?: boolean;
}

/** A decision as recorded and shown (status.decision): which policy, and why each before it did not match. */
export type DecisionExplanation = Pick<
  Decision,
  'outcome' | 'policy' | 'trace' | 'refusal' | 'notes' | 'requireMfa' | 'approvalRequiresMfa'
>;

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

export const extensionStates = ['Pending', 'Approved', 'Denied', 'Lapsed'] as const;
export type ExtensionState = (typeof extensionStates)[number];

/**
 * More time asked for on an Active grant, judged by policy like a request (with the whole grant's duration).
 * Its own approvers and quorum come from that judgement; until it is decided, access goes on as it was.
 */
export interface Extension {
  /** 1 for a request's first extension, 2 for its second, … */
  id: number;
  byMs: number;
  reason: string | null;
  requestedBy: string;
  requestedAt: Date;
  state: ExtensionState;
  /** The policy that judged it. */
  policy: string;
  approvers: Principals;
  /** Distinct approvals needed; 0 when the policy approved it by itself. */
  required: number;
  /** One deny ends it (true), or denials are recorded and the quorum may still come (false). */
  denyEnds: boolean;
  requireComment: boolean;
  /** Each approver sends a fresh one-time code (the deciding policy's approval.requireMfa); absent: no. */
  requireMfa?: boolean;
  approvals: Approval[];
  decidedAt: Date | null;
}

/** What the policy said about an extension. */
export interface ExtensionVerdict {
  decision: 'auto' | 'approval';
  policy: string;
  approval: {
    approvers: Principals;
    required: number;
    timeoutMs: number;
    denyEnds: boolean;
    requireComment: boolean;
    requireMfa?: boolean;
  } | null;
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
  /** Asked-for extensions of an Active grant, oldest first; at most one is Pending at a time. */
  extensions: Extension[];
  message: string;
  /** The ticket a provider validated, as last checked (status.ticket); absent: no provider judged one. */
  ticket?: TicketStatus | null;
  /** Made by break-glass or while tickets were waived: it has a post-incident review (status.emergency). */
  emergency?: Emergency | null;
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
  const said = `denied by ${approver.user}${comment ? `: ${comment}` : ''}`;
  if (!request.policy.denyEnds) {
    // The policy lets the quorum still come: the denial is on record, and the request waits on.
    const count = approvalUsers(approvals).length;
    return {
      ...request,
      approvals,
      updatedAt: now,
      message: `${said}; ${count} of ${request.policy.required} approvals, still waiting`,
    };
  }
  return transition({ ...request, approvals }, 'Denied', now, said);
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
  if (request.policy.requireComment && !comment?.trim()) {
    throw new Invalid(`policy ${request.policy.name} requires a comment with every decision`, 'comment');
  }
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
/**
 * When a grant activated at `now` ends: after its duration, but never after its ticket's window (a request
 * approved late would otherwise outlive the change it was for).
 */
export function grantEnd(request: AccessRequest, now: Date): Date {
  const end = now.getTime() + request.spec.durationMs;
  const notAfter = request.ticket?.notAfter?.getTime();
  return new Date(notAfter === undefined ? end : Math.min(end, notAfter));
}

export function activate(request: AccessRequest, bindings: BindingRef[], now: Date): AccessRequest {
  const expiresAt = grantEnd(request, now);
  return {
    ...transition(request, 'Active', now, `active until ${expiresAt.toISOString()}`),
    grant: { bindings, activatedAt: now, expiresAt },
  };
}

/** True when access should end now: expired, or someone asked for it to end. */
export function isDueForRemoval(request: AccessRequest, now: Date): boolean {
  if (request.phase !== 'Active' && request.phase !== 'Approved' && request.phase !== 'Scheduled')
    return false;
  if (request.revocation) return true;
  return request.phase === 'Active' && request.grant !== null && request.grant.expiresAt <= now;
}

/** A start this far in the past is taken as "now": the client's clock and the trip here may lag. */
export const startTimeSkewMs = 60_000;

/**
 * Refuses a start more than startTimeSkewMs in the past or more than maxAheadMs ahead. Forbidden, not
 * Invalid: the time is well formed, and it is the clock and the configuration (limits.maxScheduleAhead)
 * that do not allow it.
 */
export function checkStartTime(startTime: Date | null, now: Date, maxAheadMs: number): void {
  if (startTime === null) return;
  if (startTime.getTime() < now.getTime() - startTimeSkewMs) {
    throw new Forbidden(
      `start ${startTime.toISOString()} is in the past (now is ${now.toISOString()})`,
      'spec.startTime',
    );
  }
  if (startTime.getTime() > now.getTime() + maxAheadMs) {
    throw new Forbidden(
      `start ${startTime.toISOString()} is more than ${formatDuration(maxAheadMs)} ahead (limits.maxScheduleAhead)`,
      'spec.startTime',
    );
  }
}

/** Whether an approved request is to wait for its start time rather than be activated now. */
export function startsLater(request: AccessRequest, now: Date): boolean {
  return request.spec.startTime !== null && request.spec.startTime > now;
}

/** An approved request whose start time lies ahead waits for it; no binding is written before. */
export function schedule(request: AccessRequest, now: Date): AccessRequest {
  const start = request.spec.startTime;
  if (!start || start <= now) throw new Conflict(`request ${request.id} has no start time ahead`);
  return transition(request, 'Scheduled', now, `scheduled to start at ${start.toISOString()}`);
}

/**
 * When something is next due for a request (activation, expiry, revocation, approval deadline, start);
 * null when nothing ever will be.
 */
export function nextDueAt(request: AccessRequest): Date | null {
  switch (request.phase) {
    case 'Approved':
      return new Date(0);
    case 'Scheduled':
      return request.revocation ? new Date(0) : (request.spec.startTime ?? new Date(0));
    case 'Active':
      return request.revocation ? new Date(0) : (request.grant?.expiresAt ?? new Date(0));
    case 'Pending':
      return request.policy.approvalDeadline;
    default:
      return null;
  }
}

/** The extension waiting for a decision, if any. */
export function pendingExtension(request: AccessRequest): Extension | undefined {
  return request.extensions.find((e) => e.state === 'Pending');
}

/** How long the grant lasts in all: the duration asked for and every approved extension. */
export function grantedDurationMs(request: AccessRequest): number {
  return request.extensions
    .filter((e) => e.state === 'Approved')
    .reduce((total, e) => total + e.byMs, request.spec.durationMs);
}

/**
 * Refuses an extension of anything but a live Active grant (not expired, not being revoked), or while
 * another extension still waits for its decision.
 */
export function assertExtendable(request: AccessRequest, now: Date): void {
  if (request.phase !== 'Active' || !request.grant) {
    throw new Conflict(`request ${request.id} is ${request.phase}; only an Active grant can be extended`);
  }
  if (request.revocation) throw new Conflict(`request ${request.id} is being revoked`);
  if (request.grant.expiresAt <= now) throw new Conflict(`request ${request.id} has expired`);
  const notAfter = request.ticket?.notAfter;
  if (notAfter && request.grant.expiresAt >= notAfter) {
    throw new Conflict(
      `request ${request.id} already ends with the window of ticket ${request.ticket?.id} (${notAfter.toISOString()}); a later end needs a ticket that ends later`,
    );
  }
  const pending = pendingExtension(request);
  if (pending) {
    throw new Conflict(`extension ${pending.id} of request ${request.id} is still waiting for approval`);
  }
}

/**
 * Records an asked-for extension as the policy judged it: approved at once (the expiry moves) when the
 * policy approves by itself, else Pending for its own quorum.
 */
export function requestExtension(
  request: AccessRequest,
  ask: { byMs: number; reason: string | null; requestedBy: string },
  verdict: ExtensionVerdict,
  now: Date,
): AccessRequest {
  assertExtendable(request, now);
  const approval = verdict.decision === 'approval' ? verdict.approval : null;
  if (verdict.decision === 'approval' && !approval) {
    throw new Error(`policy ${verdict.policy} needs approval settings`);
  }
  const extension: Extension = {
    id: request.extensions.length + 1,
    byMs: ask.byMs,
    reason: ask.reason,
    requestedBy: ask.requestedBy,
    requestedAt: now,
    state: 'Pending',
    policy: verdict.policy,
    approvers: approval?.approvers ?? { users: [], groups: [] },
    required: approval?.required ?? 0,
    denyEnds: approval?.denyEnds ?? true,
    requireComment: approval?.requireComment ?? false,
    ...(approval?.requireMfa ? { requireMfa: true } : {}),
    approvals: [],
    decidedAt: null,
  };
  const next = { ...request, extensions: [...request.extensions, extension], updatedAt: now };
  if (!approval) return decideExtension(next, extension.id, 'Approved', now);
  return { ...next, message: `extension ${extension.id} waiting for ${approval.required} approval(s)` };
}

/** Records one approver's yes on the pending extension; at the quorum it is approved and the expiry moves. */
export function approveExtension(
  request: AccessRequest,
  approver: Identity,
  comment: string | null,
  now: Date,
): AccessRequest {
  const { extension, next } = recordExtensionDecision(request, approver, 'Approved', comment, now);
  const count = approvalUsers(extension.approvals).length;
  if (count >= extension.required) return decideExtension(next, extension.id, 'Approved', now);
  return { ...next, message: `extension ${extension.id}: ${count} of ${extension.required} approvals` };
}

/** Records one approver's no on the pending extension; it ends the extension when its policy says so. */
export function denyExtension(
  request: AccessRequest,
  approver: Identity,
  comment: string | null,
  now: Date,
): AccessRequest {
  const { extension, next } = recordExtensionDecision(request, approver, 'Denied', comment, now);
  if (!extension.denyEnds)
    return { ...next, message: `extension ${extension.id}: denied by ${approver.user}` };
  return decideExtension(next, extension.id, 'Denied', now);
}

/** A pending extension lapses when the grant ends before it is approved; the grant itself is untouched. */
export function lapseExtension(request: AccessRequest, now: Date): AccessRequest {
  const pending = pendingExtension(request);
  if (!pending) return request;
  return {
    ...request,
    extensions: request.extensions.map((e) =>
      e.id === pending.id ? { ...e, state: 'Lapsed' as const, decidedAt: now } : e,
    ),
    updatedAt: now,
  };
}

function recordExtensionDecision(
  request: AccessRequest,
  approver: Identity,
  decision: Approval['decision'],
  comment: string | null,
  now: Date,
): { extension: Extension; next: AccessRequest } {
  const pending = pendingExtension(request);
  if (!pending) throw new Conflict(`request ${request.id} has no extension waiting for approval`);
  if (approver.user === request.spec.requester || approver.user === pending.requestedBy) {
    throw new Forbidden('a requester cannot approve or deny their own extension');
  }
  if (!isAmong(approver, pending.approvers)) {
    throw new Forbidden(
      `${approver.user} is not an approver for extension ${pending.id} of request ${request.id} (policy ${pending.policy})`,
    );
  }
  // An approval that arrives when the grant has ended (or is ending) comes too late: the grant expires.
  if (request.phase !== 'Active' || !request.grant || request.grant.expiresAt <= now || request.revocation) {
    throw new Conflict(`request ${request.id} is no longer active; extension ${pending.id} lapses with it`);
  }
  if (pending.requireComment && !comment) {
    throw new Invalid(`policy ${pending.policy} requires a comment`, 'comment');
  }
  if (pending.approvals.some((a) => a.user === approver.user)) {
    throw new Conflict(`${approver.user} has already decided on extension ${pending.id}`);
  }
  const extension = {
    ...pending,
    approvals: [...pending.approvals, { user: approver.user, decision, comment, at: now }],
  };
  const next = {
    ...request,
    extensions: request.extensions.map((e) => (e.id === extension.id ? extension : e)),
    updatedAt: now,
  };
  return { extension, next };
}

/** Ends the extension's wait; an approved one moves the grant's expiry by its length. */
function decideExtension(
  request: AccessRequest,
  id: number,
  state: 'Approved' | 'Denied',
  now: Date,
): AccessRequest {
  const extension = request.extensions.find((e) => e.id === id) as Extension;
  const extensions = request.extensions.map((e) => (e.id === id ? { ...e, state, decidedAt: now } : e));
  const grant = request.grant as Grant;
  if (state === 'Denied') {
    return { ...request, extensions, updatedAt: now, message: `extension ${id} denied` };
  }
  // Never past the ticket's window, as at activation.
  const wanted = grant.expiresAt.getTime() + extension.byMs;
  const notAfter = request.ticket?.notAfter?.getTime() ?? Number.POSITIVE_INFINITY;
  const expiresAt = new Date(Math.min(wanted, notAfter));
  const capped = wanted > notAfter ? `, cut to the window of ticket ${request.ticket?.id}` : '';
  return {
    ...request,
    extensions,
    grant: { ...grant, expiresAt },
    updatedAt: now,
    message: `active until ${expiresAt.toISOString()} (extended${capped})`,
  };
}
