/**
 * Emergency access: break-glass grants (no ticket, no approver, granted at once), the fleet-wide
 * ticket-system-down mode (ticket requirements waived while it lasts), and the post-incident review every
 * such grant must get. Pure data and rules; storing and timing them is the services' and jobs' work.
 */
import { Conflict, Forbidden, Invalid } from './errors.js';
import { type Identity, isAmong, type Principals } from './identity.js';

/** How a grant came about outside the normal path; recorded on the request (status.emergency). */
export type Emergency =
  /** `elevate breakglass`: a roster member took access at once. */
  | { kind: 'breakglass'; reviewId: string }
  /** Made while ticket-system-down mode was on: its ticket requirement was waived. */
  | { kind: 'tickets-waived'; reviewId: string; modeSince: Date };

/** The fleet-wide switch (one row, shared by every server through the store). */
export interface BreakglassMode {
  on: boolean;
  /** When it was turned on (the latest time), and by whom, and why. */
  since: Date | null;
  /** It turns itself off at this moment. */
  until: Date | null;
  by: string | null;
  reason: string | null;
  /** Optimistic concurrency, as for requests. */
  version: number;
}

export const offMode: BreakglassMode = {
  on: false,
  since: null,
  until: null,
  by: null,
  reason: null,
  version: 0,
};

/** Whether the mode is in force at `now` (an expired one is off even before the job records it). */
export function modeInForce(mode: BreakglassMode, now: Date): boolean {
  return mode.on && mode.until !== null && now < mode.until;
}

export const reviewOutcomes = ['justified', 'unjustified'] as const;
export type ReviewOutcome = (typeof reviewOutcomes)[number];

export interface Review {
  id: string;
  requestId: string;
  /** Whose access is reviewed: the request's requester. */
  user: string;
  kind: Emergency['kind'];
  openedAt: Date;
  /** openedAt + breakglass.reviewDeadline: open after this, it is overdue. */
  dueAt: Date;
  state: 'open' | 'done';
  outcome: ReviewOutcome | null;
  notes: string | null;
  completedBy: string | null;
  completedAt: Date | null;
  /** When the overdue notice went out (once); null: not yet. */
  overdueNotifiedAt: Date | null;
  version: number;
}

export function isOverdue(review: Review, now: Date): boolean {
  return review.state === 'open' && now >= review.dueAt;
}

/**
 * Completes a review: only a reviewer, never the person whose access it is, and only once. Notes are
 * required: "justified" with nothing said is no review.
 */
export function completeReview(
  review: Review,
  who: Identity,
  reviewers: Principals,
  outcome: ReviewOutcome,
  notes: string,
  now: Date,
): Review {
  if (!isAmong(who, reviewers)) throw new Forbidden(`${who.user} is not in breakglass.reviewers`);
  if (who.user === review.user) {
    throw new Forbidden(`${who.user} may not review their own emergency access; another reviewer must`);
  }
  if (review.state === 'done') {
    throw new Conflict(`review ${review.id} was completed by ${review.completedBy} already`);
  }
  if (notes.trim() === '') throw new Invalid('notes are required: say what was found', 'notes');
  return { ...review, state: 'done', outcome, notes, completedBy: who.user, completedAt: now };
}
