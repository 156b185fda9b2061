import { describe, expect, it } from 'vitest';
import {
  type AccessRequest,
  activate,
  approve,
  canTransition,
  deny,
  isDueForRemoval,
  type Phase,
  phases,
  transition,
} from '../../src/domain/access-request.js';
import { Conflict, Forbidden } from '../../src/domain/errors.js';
import { accessRequest } from '../support/fixtures.js';

const t0 = new Date('2026-01-01T00:00:00Z');

function pending(): AccessRequest {
  return accessRequest({
    at: t0,
    policy: { approvers: { users: ['bob', 'carol', 'alice'], groups: ['sre-leads'] }, required: 2 },
  });
}

const allowed: [Phase, Phase][] = [
  ['Pending', 'Approved'],
  ['Pending', 'Denied'],
  ['Pending', 'Canceled'],
  ['Pending', 'TimedOut'],
  ['Approved', 'Scheduled'],
  ['Approved', 'Active'],
  ['Approved', 'Revoked'],
  ['Approved', 'Denied'],
  ['Scheduled', 'Active'],
  ['Scheduled', 'Revoked'],
  ['Scheduled', 'Canceled'],
  ['Scheduled', 'Denied'],
  ['Active', 'Expired'],
  ['Active', 'Revoked'],
];

describe('phase transitions', () => {
  it('allows exactly the lifecycle transitions', () => {
    for (const from of phases) {
      for (const to of phases) {
        const expected = allowed.some(([f, t]) => f === from && t === to);
        expect(canTransition(from, to), `${from} -> ${to}`).toBe(expected);
      }
    }
  });

  it('refuses any other transition with a Conflict', () => {
    const expired = { ...pending(), phase: 'Expired' as const };
    expect(() => transition(expired, 'Active', t0, '')).toThrow(Conflict);
  });
});

describe('approvals', () => {
  it('never lets the requester approve, even when the policy names them', () => {
    expect(() => approve(pending(), { user: 'alice', groups: ['sre-leads'] }, null, t0)).toThrow(Forbidden);
  });

  it('refuses someone the policy does not name', () => {
    expect(() => approve(pending(), { user: 'mallory', groups: ['devs'] }, null, t0)).toThrow(Forbidden);
  });

  it('needs the quorum of distinct approvers', () => {
    const once = approve(pending(), { user: 'bob', groups: [] }, 'ok', t0);
    expect(once.phase).toBe('Pending');
    expect(() => approve(once, { user: 'bob', groups: [] }, null, t0)).toThrow(Conflict);
    const twice = approve(once, { user: 'dave', groups: ['sre-leads'] }, null, t0);
    expect(twice.phase).toBe('Approved');
    expect(twice.approvals.map((a) => a.user)).toEqual(['bob', 'dave']);
  });

  it('a denial ends the request', () => {
    const denied = deny(pending(), { user: 'carol', groups: [] }, 'not now', t0);
    expect(denied.phase).toBe('Denied');
    expect(denied.message).toContain('not now');
    expect(() => approve(denied, { user: 'bob', groups: [] }, null, t0)).toThrow(Conflict);
  });
});

describe('activation and expiry', () => {
  it('expires exactly duration after activation', () => {
    const approved = transition(pending(), 'Approved', t0, '');
    const active = activate(
      approved,
      [{ cluster: 'dev', kind: 'RoleBinding', name: 'x', namespace: 'payments' }],
      t0,
    );
    expect(active.grant?.expiresAt.toISOString()).toBe('2026-01-01T00:01:00.000Z');
    expect(isDueForRemoval(active, new Date(t0.getTime() + 59_999))).toBe(false);
    expect(isDueForRemoval(active, new Date(t0.getTime() + 60_000))).toBe(true);
  });

  it('a revocation intent makes access due for removal at once', () => {
    const approved = transition(pending(), 'Approved', t0, '');
    const active = activate(approved, [], t0);
    expect(isDueForRemoval({ ...active, revocation: { by: 'bob', reason: null, at: t0 } }, t0)).toBe(true);
  });
});
