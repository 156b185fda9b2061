import type { AccessRequest } from '../domain/access-request.js';
import type { AuditEvent } from '../domain/audit-event.js';
import { systemActor } from '../domain/audit-event.js';
import { completeReview, isOverdue, type Review, type ReviewOutcome } from '../domain/breakglass.js';
import type { Clock } from '../domain/clock.js';
import { Forbidden, NotFound } from '../domain/errors.js';
import { type Identity, isAmong, type Principals } from '../domain/identity.js';
import type { Store } from './ports.js';

export interface ReviewView {
  review: Review;
  overdue: boolean;
}

export interface ReviewDetail extends ReviewView {
  request: AccessRequest | null;
  /** The request's audit events, oldest first: what happened, when, by whom. */
  timeline: AuditEvent[];
}

export interface ReviewServiceDeps {
  store: Pick<Store, 'getReview' | 'listReviews' | 'saveReview' | 'getRequest' | 'listAuditForRequest'>;
  /** breakglass.reviewers; none when break-glass is not configured (admins still see reviews). */
  reviewers: Principals;
  isAdmin: (who: Identity) => boolean;
  clock: Clock;
}

/**
 * Post-incident reviews of emergency grants: reviewers and admins see them, a reviewer other than the
 * person whose access it was completes each one, and one open past its deadline is flagged overdue (and
 * announced once, through the audit trail).
 */
export function createReviewService(deps: ReviewServiceDeps) {
  const { store, clock } = deps;
  const mayRead = (who: Identity) => deps.isAdmin(who) || isAmong(who, deps.reviewers);
  const view = (review: Review): ReviewView => ({ review, overdue: isOverdue(review, clock.now()) });

  function requireReader(who: Identity): void {
    if (!mayRead(who))
      throw new Forbidden(`${who.user} is not a reviewer (breakglass.reviewers) or an admin`);
  }

  async function load(id: string): Promise<Review> {
    const review = await store.getReview(id);
    if (!review) throw new NotFound(`review ${id} not found`);
    return review;
  }

  return {
    async list(who: Identity, state?: Review['state']): Promise<ReviewView[]> {
      requireReader(who);
      return (await store.listReviews(state ? { state } : {})).map(view);
    },

    async show(who: Identity, id: string): Promise<ReviewDetail> {
      requireReader(who);
      const review = await load(id);
      const [request, timeline] = await Promise.all([
        store.getRequest(review.requestId),
        store.listAuditForRequest(review.requestId),
      ]);
      return { ...view(review), request, timeline };
    },

    async complete(who: Identity, id: string, outcome: ReviewOutcome, notes: string): Promise<ReviewView> {
      const review = await load(id);
      const done = completeReview(review, who, deps.reviewers, outcome, notes, clock.now());
      const saved = await store.saveReview(done, [
        {
          time: clock.now(),
          actor: who.user,
          action: 'ReviewCompleted',
          requestId: review.requestId,
          cluster: null,
          details: { review: id, outcome, notes, user: review.user },
        },
      ]);
      return view(saved);
    },

    /** Open reviews past their deadline not yet announced: each gets one ReviewOverdue event. */
    async announceOverdue(): Promise<number> {
      const now = clock.now();
      const due = (await store.listReviews({ state: 'open' })).filter(
        (r) => isOverdue(r, now) && r.overdueNotifiedAt === null,
      );
      for (const r of due) {
        await store.saveReview({ ...r, overdueNotifiedAt: now }, [
          {
            time: now,
            actor: systemActor,
            action: 'ReviewOverdue',
            requestId: r.requestId,
            cluster: null,
            details: {
              review: r.id,
              user: r.user,
              kind: r.kind,
              dueAt: r.dueAt.toISOString(),
              severity: 'high',
            },
          },
        ]);
      }
      return due.length;
    },

    /** For /metrics: open reviews, and how many of them are overdue. */
    async counts(): Promise<{ open: number; overdue: number }> {
      const open = await store.listReviews({ state: 'open' });
      const now = clock.now();
      return { open: open.length, overdue: open.filter((r) => isOverdue(r, now)).length };
    },
  };
}

export type ReviewService = ReturnType<typeof createReviewService>;
