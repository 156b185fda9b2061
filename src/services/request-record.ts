/**
 * A judged request as stored: the decision frozen on it, the request built from an evaluation (Pending,
 * Approved by policy or Denied), and the write of it with its audit events — and, for one made while
 * tickets were waived, its post-incident review in the same transaction.
 */
import {
  type AccessRequest,
  type AccessRequestSpec,
  type DecisionExplanation,
  type PolicyDecisionRecord,
  transition,
} from '../domain/access-request.js';
import { requestEvent, systemActor } from '../domain/audit-event.js';
import { openReview } from '../domain/emergency-request.js';
import { RequestRefused } from '../domain/errors.js';
import { withCredentialSubjects } from '../domain/grant-mechanism.js';
import type { Identity } from '../domain/identity.js';
import type { Decision, Policy } from '../domain/policy/types.js';
import type { TicketStatus } from '../domain/ticket.js';
import type { Store } from './ports.js';
import { newRequestId, newReviewId } from './request-id.js';

/** A request judged: what will be stored, and why. */
export interface Evaluation {
  spec: AccessRequestSpec;
  decision: Decision;
  now: Date;
  allowEscalatingRoles: string[];
  policy: Policy | undefined;
  /** The ticket as its provider judged it, when the deciding policy names one. */
  ticket: TicketStatus | null;
  /** When ticket-system-down mode went on, while it is in force; null: tickets are required as usual. */
  waivedSince: Date | null;
}

const defaultReviewDeadlineMs = 72 * 3_600_000;

/** The decision frozen on the request: later config edits do not rewrite why it was decided so. */
export function decisionRecord(
  decision: Decision,
  now: Date,
  allowEscalatingRoles: string[],
): PolicyDecisionRecord {
  const { approval } = decision;
  return {
    name: decision.policy?.name ?? '',
    decision: decision.outcome,
    approvers: approval?.approvers ?? { users: [], groups: [] },
    required: approval?.required ?? 0,
    approvalDeadline: approval ? new Date(now.getTime() + approval.timeoutMs) : null,
    denyEnds: approval?.denyEnds ?? true,
    requireComment: approval?.requireComment ?? false,
    allowEscalatingRoles,
    explanation: explanationOf(decision),
    ...(decision.approvalRequiresMfa ? { approvalRequiresMfa: true } : {}),
  };
}

export function explanationOf(d: Decision): DecisionExplanation {
  return {
    outcome: d.outcome,
    policy: d.policy,
    trace: d.trace,
    refusal: d.refusal,
    notes: d.notes,
    ...(d.requireMfa ? { requireMfa: true } : {}),
    ...(d.approvalRequiresMfa ? { approvalRequiresMfa: true } : {}),
  };
}

/** The request as it would be stored: Pending, or Approved by policy, or Denied when refused. */
export function requestFor({
  spec: asked,
  decision,
  now,
  allowEscalatingRoles,
  ticket,
  waivedSince,
}: Evaluation): AccessRequest {
  const id = newRequestId();
  // A credential grant's bindings name its own ServiceAccount, named after the request.
  const spec = withCredentialSubjects(asked, id);
  // Every grant made while tickets are waived is flagged, and gets a post-incident review.
  const emergency =
    waivedSince !== null && !decision.refusal
      ? { kind: 'tickets-waived' as const, reviewId: newReviewId(), modeSince: waivedSince }
      : null;
  const pending: AccessRequest = {
    id,
    createdAt: now,
    updatedAt: now,
    version: 1,
    spec,
    policy: decisionRecord(decision, now, allowEscalatingRoles),
    phase: 'Pending',
    approvals: [],
    grant: null,
    revocation: null,
    extensions: [],
    message: decision.approval ? `waiting for ${decision.approval.required} approval(s)` : '',
    ...(ticket ? { ticket } : {}),
    ...(emergency ? { emergency } : {}),
  };
  if (decision.refusal) return transition(pending, 'Denied', now, decision.refusal.message);
  if (decision.outcome === 'auto') {
    return transition(pending, 'Approved', now, `approved by policy ${decision.policy?.name}`);
  }
  return pending;
}

export interface RequestRecorderDeps {
  store: Pick<Store, 'createRequest'>;
  /** How long a review of a grant made in ticket-system-down mode may stay open (breakglass.reviewDeadline). */
  reviewDeadlineMs?: number;
}

export function createRequestRecorder(deps: RequestRecorderDeps) {
  return {
    /**
     * Stores the request as judged. A refused one is stored Denied and audited (RequestRefused) before the
     * caller gets 403; an auto-approved one is returned Approved for the caller to settle.
     */
    async record(who: Identity, evaluation: Evaluation): Promise<AccessRequest> {
      const { decision, now } = evaluation;
      const request = requestFor(evaluation);
      // As stored: a credential grant's subjects name its ServiceAccount (the audit says who is bound).
      const { spec } = request;
      // On someone's behalf, the integration is who acted.
      const actor = spec.requestedBy ?? who.user;
      const event = (action: string, details: Record<string, unknown>) =>
        requestEvent(request, actor, action, now, details);
      const explanation = explanationOf(decision);
      if (decision.refusal) {
        await deps.store.createRequest(request, [
          event('RequestRefused', { spec: { ...spec, requesterGroups: undefined }, decision: explanation }),
        ]);
        throw new RequestRefused(decision.refusal.message, decision.refusal.field, request.id, explanation);
      }
      const created = event('RequestCreated', {
        ...(request.emergency ? { ticketsWaived: true } : {}),
        ...(spec.via ? { via: spec.via, requestedBy: spec.requestedBy, requester: spec.requester } : {}),
        spec: { ...spec, requesterGroups: undefined },
        policy: decision.policy?.name,
        decision: decision.outcome,
        trace: decision.trace,
      });
      const events = [created];
      if (request.ticket) {
        const { provider, id, status, notAfter } = request.ticket;
        events.push(event('TicketValidated', { provider, ticket: id, status, notAfter }));
      }
      if (decision.outcome === 'auto') {
        events.push({
          ...event('RequestApproved', { policy: decision.policy?.name }),
          actor: systemActor,
        });
      }
      const review = request.emergency
        ? openReview(
            request.emergency.reviewId,
            request,
            request.emergency.kind,
            now,
            deps.reviewDeadlineMs ?? defaultReviewDeadlineMs,
          )
        : undefined;
      if (review) {
        events.push(
          event('ReviewOpened', { review: review.id, kind: review.kind, dueAt: review.dueAt.toISOString() }),
        );
      }
      await deps.store.createRequest(request, events, review);
      return request;
    },
  };
}
