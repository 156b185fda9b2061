import { describe, expect, it } from 'vitest';
import { completeReview, isOverdue, modeInForce, offMode, type Review } from '../../src/domain/breakglass.js';
import { Conflict, Forbidden, Invalid } from '../../src/domain/errors.js';

const now = new Date('2026-05-06T10:00:00Z');
const review: Review = {
  id: 'rv-1',
  requestId: 'ar-1',
  user: 'alice',
  kind: 'breakglass',
  openedAt: new Date('2026-05-03T09:00:00Z'),
  dueAt: new Date('2026-05-06T09:00:00Z'),
  state: 'open',
  outcome: null,
  notes: null,
  completedBy: null,
  completedAt: null,
  overdueNotifiedAt: null,
  version: 1,
};
const reviewers = { users: ['alice', 'carol'], groups: ['security'] };

describe('ticket-system-down mode', () => {
  it('is in force only while on and before its end', () => {
    const on = { ...offMode, on: true, since: now, until: new Date(now.getTime() + 1000) };
    expect(modeInForce(on, now)).toBe(true);
    expect(modeInForce(on, new Date(now.getTime() + 1000))).toBe(false);
    expect(modeInForce({ ...on, on: false }, now)).toBe(false);
    expect(modeInForce(offMode, now)).toBe(false);
  });
});

describe('post-incident reviews', () => {
  it('are overdue once open past their deadline', () => {
    expect(isOverdue(review, now)).toBe(true);
    expect(isOverdue(review, new Date('2026-05-06T08:59:59Z'))).toBe(false);
    expect(isOverdue({ ...review, state: 'done' }, now)).toBe(false);
  });

  it('are completed by a reviewer (by user or group) other than the person reviewed', () => {
    const done = completeReview(
      review,
      { user: 'dan', groups: ['security'] },
      reviewers,
      'justified',
      'INC1',
      now,
    );
    expect(done).toMatchObject({
      state: 'done',
      outcome: 'justified',
      notes: 'INC1',
      completedBy: 'dan',
      completedAt: now,
    });
    expect(() =>
      completeReview(review, { user: 'alice', groups: [] }, reviewers, 'justified', 'x', now),
    ).toThrow(Forbidden);
    expect(() =>
      completeReview(review, { user: 'mallory', groups: [] }, reviewers, 'justified', 'x', now),
    ).toThrow(/not in breakglass.reviewers/);
    expect(() =>
      completeReview(done, { user: 'carol', groups: [] }, reviewers, 'unjustified', 'x', now),
    ).toThrow(Conflict);
    expect(() =>
      completeReview(review, { user: 'carol', groups: [] }, reviewers, 'justified', '  ', now),
    ).toThrow(Invalid);
  });
});
