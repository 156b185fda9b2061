import { describe, expect, it } from 'vitest';
import {
  type AccessRequest,
  activate,
  checkStartTime,
  isDueForRemoval,
  nextDueAt,
  schedule,
  startsLater,
  transition,
} from '../../src/domain/access-request.js';
import { Conflict, Forbidden } from '../../src/domain/errors.js';
import { accessRequest } from '../support/fixtures.js';

const t0 = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const hour = 3_600_000;
const binding = {
  cluster: 'dev',
  kind: 'RoleBinding' as const,
  name: 'elevate-ar-test',
  namespace: 'payments',
};

/** alice's request approved at t0, to start `startInMs` later (null: no start time). */
function approved(startInMs: number | null): AccessRequest {
  const r = accessRequest({ at: t0, spec: { startTime: startInMs === null ? null : at(startInMs) } });
  return transition(r, 'Approved', t0, 'approved');
}

describe('scheduled start: the start time', () => {
  const maxAhead = 7 * 24 * hour;

  it('accepts none, now, a start within the last minute and one up to limits.maxScheduleAhead ahead', () => {
    for (const start of [null, t0, at(-60_000), at(-1), at(hour), at(maxAhead)]) {
      expect(() => checkStartTime(start, t0, maxAhead), String(start)).not.toThrow();
    }
  });

  it.each([
    ['more than a minute in the past', at(-60_001), /in the past/],
    ['a year in the past', at(-365 * 24 * hour), /in the past/],
    ['beyond limits.maxScheduleAhead', at(maxAhead + 1), /more than 168h ahead \(limits\.maxScheduleAhead\)/],
  ])('refuses a start %s, naming spec.startTime', (_what, start, message) => {
    let error: unknown;
    try {
      checkStartTime(start, t0, maxAhead);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Forbidden);
    expect((error as Forbidden).message).toMatch(message);
    expect((error as Forbidden).field).toBe('spec.startTime');
  });
});

describe('scheduled start: the Scheduled phase', () => {
  it('an approval whose start lies ahead waits Scheduled; one without, or whose start has come, does not', () => {
    expect(startsLater(approved(hour), t0)).toBe(true);
    expect(startsLater(approved(hour), at(hour))).toBe(false);
    expect(startsLater(approved(-30_000), t0)).toBe(false);
    expect(startsLater(approved(null), t0)).toBe(false);
  });

  it('Approved → Scheduled → Active, the duration counting from activation', () => {
    const scheduled = schedule(approved(hour), t0);
    expect(scheduled.phase).toBe('Scheduled');
    expect(scheduled.message).toContain('2026-01-01T01:00:00.000Z');
    const active = activate(scheduled, [binding], at(hour + 500));
    expect(active.phase).toBe('Active');
    expect(active.grant?.activatedAt).toEqual(at(hour + 500));
    expect(active.grant?.expiresAt).toEqual(at(hour + 500 + 60_000));
  });

  it('cannot schedule a request whose start has come', () => {
    expect(() => schedule(approved(0), t0)).toThrow(Conflict);
    expect(() => schedule(approved(null), t0)).toThrow(Conflict);
  });

  it('nextDueAt is the start time, or at once when a revocation is asked for', () => {
    const scheduled = schedule(approved(hour), t0);
    expect(nextDueAt(scheduled)).toEqual(at(hour));
    expect(nextDueAt({ ...scheduled, revocation: { by: 'bob', reason: null, at: t0 } })).toEqual(new Date(0));
  });

  it('wants no removal unless revoked; revoked it is removed (idempotently) and ends Revoked', () => {
    const scheduled = schedule(approved(hour), t0);
    expect(isDueForRemoval(scheduled, at(2 * hour))).toBe(false);
    const revoking = { ...scheduled, revocation: { by: 'bob', reason: null, at: t0 } };
    expect(isDueForRemoval(revoking, t0)).toBe(true);
    expect(transition(revoking, 'Revoked', t0, '').phase).toBe('Revoked');
  });

  it('the requester may cancel it; it never expires or times out', () => {
    const scheduled = schedule(approved(hour), t0);
    expect(transition(scheduled, 'Canceled', t0, '').phase).toBe('Canceled');
    for (const to of ['Expired', 'TimedOut', 'Approved', 'Pending'] as const) {
      expect(() => transition(scheduled, to, t0, ''), to).toThrow(Conflict);
    }
  });
});
