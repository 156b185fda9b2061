/**
 * The records an emergency grant is made of, pure: the break-glass request itself (already approved, by
 * nobody but the roster), and the post-incident review every emergency grant opens.
 */
import type { AccessRequest, AccessRequestSpec } from './access-request.js';
import type { Emergency, Review } from './breakglass.js';

/** The name break-glass grants carry where a policy's name would be. */
export const breakglassPolicyName = 'breakglass';

export function openReview(
  id: string,
  request: Pick<AccessRequest, 'id' | 'spec'>,
  kind: Emergency['kind'],
  now: Date,
  deadlineMs: number,
): Review {
  return {
    id,
    requestId: request.id,
    user: request.spec.requester,
    kind,
    openedAt: now,
    dueAt: new Date(now.getTime() + deadlineMs),
    state: 'open',
    outcome: null,
    notes: null,
    completedBy: null,
    completedAt: null,
    overdueNotifiedAt: null,
    version: 1,
  };
}

/** A break-glass request as stored: Approved at once, no approvers, the guardrails' exceptions on record. */
export function breakglassRequest(
  id: string,
  spec: AccessRequestSpec,
  reviewId: string,
  allowEscalatingRoles: string[],
  notes: string[],
  now: Date,
): AccessRequest {
  const policy = { name: breakglassPolicyName, source: 'breakglass' };
  return {
    id,
    createdAt: now,
    updatedAt: now,
    version: 1,
    spec,
    policy: {
      name: breakglassPolicyName,
      decision: 'auto',
      approvers: { users: [], groups: [] },
      required: 0,
      approvalDeadline: null,
      denyEnds: true,
      requireComment: false,
      allowEscalatingRoles,
      explanation: { outcome: 'auto', policy, trace: [], refusal: null, notes },
    },
    phase: 'Approved',
    approvals: [],
    grant: null,
    revocation: null,
    extensions: [],
    message: `break-glass by ${spec.requester}: granted at once, review ${reviewId} opened`,
    emergency: { kind: 'breakglass', reviewId },
  };
}
