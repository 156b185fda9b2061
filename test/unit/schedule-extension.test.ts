import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store.js';
import { describeRequest } from '../../src/cli/render.js';
import {
  type AccessRequest,
  activate,
  approveExtension,
  assertExtendable,
  checkStartTime,
  denyExtension,
  type ExtensionVerdict,
  grantedDurationMs,
  isDueForRemoval,
  lapseExtension,
  nextDueAt,
  pendingExtension,
  requestExtension,
  schedule,
  startsLater,
  transition,
} from '../../src/domain/access-request.js';
import { Conflict, Forbidden, Invalid } from '../../src/domain/errors.js';
import { conditionsOf, toResource } from '../../src/http/resources.js';
import { createExtensionService } from '../../src/services/extension-service.js';
import { createGrantService } from '../../src/services/grant-service.js';
import { createKeyedLock } from '../../src/services/keyed-lock.js';
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

/** alice's grant, active since t0 for 1 h. */
function active(): AccessRequest {
  return activate(approved(null), [binding], t0);
}

const auto: ExtensionVerdict = { decision: 'auto', policy: 'view-auto', approval: null };
const needsTwo = (denyEnds = true, requireComment = false): ExtensionVerdict => ({
  decision: 'approval',
  policy: 'edit-needs-two',
  approval: {
    approvers: { users: [], groups: ['sre-leads'] },
    required: 2,
    timeoutMs: hour,
    denyEnds,
    requireComment,
  },
});
const ask = { byMs: 30 * 60_000, reason: 'still on it', requestedBy: 'alice' };
const bob = { user: 'bob', groups: ['sre-leads'] };
const carol = { user: 'carol', groups: ['sre-leads'] };

describe('extensions', () => {
  it('never past the ticket window: cut to it, and none once the grant ends with it', () => {
    const ticket = {
      provider: 'snow',
      id: 'CHG1',
      checkedAt: t0,
      valid: true,
      status: 'Open (state -1)',
      notAfter: at(10 * 60_000),
    };
    // Activated with the ticket on record: its 1m duration ends well before the window does.
    const r = activate({ ...approved(null), ticket }, [binding], t0);
    expect(r.grant?.expiresAt).toEqual(at(60_000));
    const extended = requestExtension(r, ask, auto, at(1000));
    expect(extended.grant?.expiresAt).toEqual(at(10 * 60_000));
    expect(extended.message).toContain('cut to the window of ticket CHG1');
    expect(() => requestExtension(extended, ask, auto, at(2000))).toThrow(
      /already ends with the window of ticket CHG1/,
    );
    // Activated late, a grant starts already cut to the window.
    expect(activate({ ...approved(null), ticket }, [binding], at(9.5 * 60_000)).grant?.expiresAt).toEqual(
      at(10 * 60_000),
    );
  });

  it('one the policy approves by itself moves the expiry at once, in place', () => {
    const r = active();
    const extended = requestExtension(r, ask, auto, at(1000));
    expect(extended.extensions).toHaveLength(1);
    expect(extended.extensions[0]).toMatchObject({
      id: 1,
      state: 'Approved',
      required: 0,
      policy: 'view-auto',
    });
    expect(extended.grant?.expiresAt).toEqual(at(60_000 + 30 * 60_000));
    expect(extended.grant?.bindings).toEqual(r.grant?.bindings);
    expect(extended.grant?.activatedAt).toEqual(t0);
    expect(extended.phase).toBe('Active');
    expect(nextDueAt(extended)).toEqual(extended.grant?.expiresAt);
    expect(grantedDurationMs(extended)).toBe(60_000 + 30 * 60_000);
  });

  it('one needing approval waits for its own quorum while the expiry stays; the requester never counts', () => {
    const waiting = requestExtension(active(), ask, needsTwo(), at(1000));
    expect(pendingExtension(waiting)?.state).toBe('Pending');
    expect(waiting.grant?.expiresAt).toEqual(at(60_000));
    expect(grantedDurationMs(waiting)).toBe(60_000);
    expect(() => approveExtension(waiting, { user: 'alice', groups: ['sre-leads'] }, null, at(2000))).toThrow(
      Forbidden,
    );
    expect(() => approveExtension(waiting, { user: 'mallory', groups: ['devs'] }, null, at(2000))).toThrow(
      Forbidden,
    );
    const once = approveExtension(waiting, bob, 'ok', at(2000));
    expect(pendingExtension(once)?.approvals.map((a) => a.user)).toEqual(['bob']);
    expect(once.grant?.expiresAt).toEqual(at(60_000));
    expect(() => approveExtension(once, bob, null, at(3000))).toThrow(Conflict);
    const twice = approveExtension(once, carol, null, at(3000));
    expect(twice.extensions[0]).toMatchObject({ state: 'Approved', decidedAt: at(3000) });
    expect(twice.grant?.expiresAt).toEqual(at(60_000 + 30 * 60_000));
  });

  it('an approval at or after the expiry comes too late', () => {
    const waiting = requestExtension(active(), ask, needsTwo(), at(1000));
    const once = approveExtension(waiting, bob, null, at(2000));
    expect(() => approveExtension(once, carol, null, at(60_000))).toThrow(Conflict);
    expect(() => approveExtension(once, carol, null, at(61_000))).toThrow(Conflict);
  });

  it('a deny ends it under denyEnds, else it is recorded and the quorum may still come', () => {
    const denied = denyExtension(
      requestExtension(active(), ask, needsTwo(true), at(1000)),
      bob,
      'no',
      at(2000),
    );
    expect(denied.extensions[0]?.state).toBe('Denied');
    expect(denied.grant?.expiresAt).toEqual(at(60_000));
    expect(denied.phase).toBe('Active');
    const recorded = denyExtension(
      requestExtension(active(), ask, needsTwo(false), at(1000)),
      bob,
      'no',
      at(2000),
    );
    expect(recorded.extensions[0]?.state).toBe('Pending');
    const dave = { user: 'dave', groups: ['sre-leads'] };
    const approved = approveExtension(
      approveExtension(recorded, carol, null, at(3000)),
      dave,
      null,
      at(3000),
    );
    expect(approved.extensions[0]?.state).toBe('Approved');
  });

  it('requireComment asks approvers for a comment', () => {
    const waiting = requestExtension(active(), ask, needsTwo(true, true), at(1000));
    expect(() => approveExtension(waiting, bob, null, at(2000))).toThrow(Invalid);
    expect(approveExtension(waiting, bob, 'fine', at(2000)).extensions[0]?.approvals).toHaveLength(1);
  });

  it('only an Active, unexpired, unrevoked grant with no extension pending can be extended', () => {
    expect(() => assertExtendable(approved(null), t0)).toThrow(Conflict);
    expect(() => assertExtendable(schedule(approved(hour), t0), t0)).toThrow(Conflict);
    expect(() => assertExtendable(active(), at(60_000))).toThrow(Conflict);
    expect(() =>
      assertExtendable({ ...active(), revocation: { by: 'bob', reason: null, at: t0 } }, at(1000)),
    ).toThrow(Conflict);
    const waiting = requestExtension(active(), ask, needsTwo(), at(1000));
    expect(() => requestExtension(waiting, ask, auto, at(2000))).toThrow(/still waiting/);
    // Once decided, another may be asked for; it counts the approved ones toward the whole grant.
    const again = requestExtension(requestExtension(active(), ask, auto, at(1000)), ask, auto, at(2000));
    expect(again.extensions.map((e) => e.id)).toEqual([1, 2]);
    expect(grantedDurationMs(again)).toBe(60_000 + 2 * 30 * 60_000);
  });

  it('one still pending when the grant ends lapses; the grant keeps its original expiry', () => {
    const waiting = requestExtension(active(), ask, needsTwo(), at(1000));
    expect(isDueForRemoval(waiting, at(60_000))).toBe(true);
    const expired = lapseExtension(transition(waiting, 'Expired', at(60_000), 'access expired'), at(60_000));
    expect(expired.extensions[0]).toMatchObject({ state: 'Lapsed', decidedAt: at(60_000) });
    expect(expired.grant?.expiresAt).toEqual(at(60_000));
    expect(() => approveExtension(expired, bob, null, at(60_001))).toThrow(Conflict);
    // Nothing pending: nothing changes.
    expect(lapseExtension(active(), at(1000))).toEqual(active());
  });
});

describe('the store', () => {
  it('keeps the start time and the extensions, dates and all', async () => {
    const store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), 'elevate-ext-')), 'e.db'));
    const scheduled = schedule(approved(hour), t0);
    await store.createRequest(scheduled, []);
    expect(await store.getRequest(scheduled.id)).toEqual({ ...scheduled });
    const waiting = approveExtension(
      requestExtension({ ...active(), id: 'ar-ext' }, ask, needsTwo(), at(1000)),
      bob,
      'ok',
      at(2000),
    );
    await store.createRequest(waiting, []);
    const read = await store.getRequest('ar-ext');
    expect(read?.extensions).toEqual(waiting.extensions);
    expect(read?.extensions[0]?.requestedAt).toBeInstanceOf(Date);
    expect(read?.extensions[0]?.approvals[0]?.at).toBeInstanceOf(Date);
    await store.close();
  });
});

describe('how they show', () => {
  it('a Scheduled request: Granted False/Scheduled, spec.startTime, and its start in `elevate get`', () => {
    const scheduled = schedule(approved(hour), t0);
    expect(conditionsOf(scheduled).find((c) => c.type === 'Granted')).toMatchObject({
      status: 'False',
      reason: 'Scheduled',
    });
    const resource = toResource(scheduled);
    expect(resource.spec.startTime).toBe('2026-01-01T01:00:00.000Z');
    expect(describeRequest(resource)).toMatch(/Start:\s+2026-01-01T01:00:00.000Z/);
  });

  it('status.extensions and `elevate get` list each extension with its state and approvals', () => {
    const waiting = approveExtension(
      requestExtension(active(), ask, needsTwo(), at(1000)),
      bob,
      'ok',
      at(2000),
    );
    const resource = toResource(waiting);
    expect(resource.status.extensions).toEqual([
      {
        id: 1,
        by: '30m',
        reason: 'still on it',
        requestedBy: 'alice',
        requestedAt: at(1000).toISOString(),
        state: 'Pending',
        policy: 'edit-needs-two',
        requiredApprovals: 2,
        approvals: [{ user: 'bob', decision: 'Approved', comment: 'ok', time: at(2000).toISOString() }],
        decidedAt: null,
      },
    ]);
    expect(describeRequest(resource)).toMatch(
      /Extension 1:\s+\+30m Pending \(policy edit-needs-two, needs 2 approval\(s\); approved by bob\) asked by alice/,
    );
  });
});

describe('an extension approval racing the expiry', () => {
  /** A grant waiting for the last of two approvals on its extension, in a real store, with a clock set by the test. */
  async function world() {
    const store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), 'elevate-race-')), 'e.db'));
    const waiting = approveExtension(
      requestExtension(active(), ask, needsTwo(), at(1000)),
      bob,
      null,
      at(2000),
    );
    await store.createRequest(waiting, []);
    let now = t0;
    const clock = { now: () => now };
    const calls: string[] = [];
    const clusters = {
      annotateBinding: async () => {
        calls.push('annotate');
        return 'updated' as const;
      },
      deleteBinding: async () => {
        calls.push('delete');
        return 'deleted' as const;
      },
      applyBinding: async () => {
        throw new Error('nothing is written again');
      },
      namespaceExists: async () => true,
      roleRules: async () => [],
      applyServiceAccount: async () => {
        throw new Error('nothing is written again');
      },
      deleteServiceAccount: async () => 'absent' as const,
    };
    const withLock = createKeyedLock();
    const grants = createGrantService({
      store,
      clusters,
      policySource: { current: () => ({}) as never },
      clock,
      withLock,
    });
    const extensions = createExtensionService({
      store,
      clusters,
      judge: async () => needsTwo(),
      admins: { users: [], groups: [] },
      clock,
      withLock,
      onChange: () => {},
    });
    return { store, grants, extensions, calls, setNow: (d: Date) => (now = d) };
  }

  it('at the expiry itself the approval is refused and the grant expires, its extension lapsed', async () => {
    const w = await world();
    w.setNow(at(60_000));
    const [approval, settled] = await Promise.allSettled([
      w.extensions.approve(carol, 'ar-test', null),
      w.grants.settle('ar-test'),
    ]);
    expect(approval.status).toBe('rejected');
    expect((approval as PromiseRejectedResult).reason).toBeInstanceOf(Conflict);
    expect(settled.status).toBe('fulfilled');
    const r = await w.store.getRequest('ar-test');
    expect(r?.phase).toBe('Expired');
    expect(r?.extensions[0]?.state).toBe('Lapsed');
    expect(r?.grant?.expiresAt).toEqual(at(60_000));
    expect(w.calls).toEqual(['delete']);
    expect((await w.store.listAudit()).map((e) => e.action)).toEqual(['GrantExpired', 'ExtensionLapsed']);
    await w.store.close();
  });

  it('a millisecond before, the approval wins and the timer finds nothing due', async () => {
    const w = await world();
    w.setNow(at(59_999));
    const approved = await w.extensions.approve(carol, 'ar-test', null);
    expect(approved.grant?.expiresAt).toEqual(at(60_000 + 30 * 60_000));
    w.setNow(at(60_000));
    const settled = await w.grants.settle('ar-test');
    expect(settled.phase).toBe('Active');
    expect(w.calls).toEqual(['annotate']);
    expect((await w.store.listAudit()).map((e) => e.action)).toEqual([
      'ExtensionApprovalRecorded',
      'ExtensionApproved',
      'GrantExtended',
    ]);
    await w.store.close();
  });
});
