import { describe, expect, it } from 'vitest';
import { checkConstraints, effectiveDuration } from '../../../src/domain/policy/constraints.js';
import { checkLimits } from '../../../src/domain/policy/limits.js';
import type { Limits, Policy, UsageRecord } from '../../../src/domain/policy/types.js';
import { HOUR, input, MINUTE, policy, target } from './fixtures.js';

const limits: Limits = { minDurationMs: MINUTE, maxDurationMs: 8 * HOUR, maxScheduleAheadMs: 7 * 24 * HOUR };
const now = new Date('2026-05-06T10:00:00Z');
const at = (hhmm: string) => new Date(`2026-05-06T${hhmm}:00Z`);

/** What a decision knows when no ticket provider was asked. */
const noFacts = { now: new Date('2026-01-01T00:00:00Z') };

describe('duration', () => {
  it.each<[string, Partial<Policy>, number | null, number]>([
    ['the request’s own', {}, 2 * HOUR, 2 * HOUR],
    ['the policy default', { defaultDurationMs: 30 * MINUTE }, null, 30 * MINUTE],
    ['no default: the policy maximum', { maxDurationMs: 2 * HOUR }, null, 2 * HOUR],
    ['no default: never above limits.maxDuration', { maxDurationMs: 24 * HOUR }, null, 8 * HOUR],
  ])('%s', (_name, over, requested, expected) => {
    expect(effectiveDuration(policy('p', over), input({ durationMs: requested }), limits)).toBe(expected);
  });

  it.each<[string, Partial<Policy>, number | null, string | null]>([
    ['within every bound', { maxDurationMs: 4 * HOUR }, 4 * HOUR, null],
    [
      'above the policy maximum',
      { maxDurationMs: 4 * HOUR },
      5 * HOUR,
      'duration 5h exceeds the maximum 4h of policy p (maxDuration)',
    ],
    ['below limits.minDuration', {}, 30_000, 'duration 30s is below the minimum 1m (limits.minDuration)'],
    [
      'above limits.maxDuration',
      { maxDurationMs: 24 * HOUR },
      9 * HOUR,
      'duration 9h exceeds the maximum 8h (limits.maxDuration)',
    ],
    [
      'a default above limits.maxDuration says it was the default',
      { maxDurationMs: 24 * HOUR, defaultDurationMs: 12 * HOUR },
      null,
      'the default duration 12h of policy p (defaultDuration) exceeds the maximum 8h (limits.maxDuration)',
    ],
  ])('%s', (_name, over, requested, message) => {
    const r = checkConstraints(
      policy('p', over),
      input({ durationMs: requested }),
      limits,
      noFacts,
      new Set(),
    );
    expect(r).toEqual(message === null ? null : { kind: 'constraint', field: 'spec.duration', message });
  });
});

describe('requireTicket', () => {
  it.each<[string, Policy['requireTicket'], string | null, string | null]>([
    ['not required', undefined, null, null],
    ['required and given', { pattern: null }, 'anything', null],
    ['required and missing', { pattern: null }, null, 'policy p requires a ticket (requireTicket)'],
    ['required and empty', { pattern: null }, '', 'policy p requires a ticket (requireTicket)'],
    ['pattern matches', { pattern: '^INC-\\d+$' }, 'INC-7', null],
    [
      'pattern does not match',
      { pattern: '^INC-\\d+$' },
      'INC-x',
      'ticket INC-x does not match /^INC-\\d+$/ required by policy p (requireTicket.pattern)',
    ],
  ])('%s', (_name, requireTicket, ticket, message) => {
    const r = checkConstraints(policy('p', { requireTicket }), input({ ticket }), limits, noFacts, new Set());
    expect(r).toEqual(message === null ? null : { kind: 'constraint', field: 'spec.ticket', message });
  });

  it('checks the duration before the ticket', () => {
    const r = checkConstraints(
      policy('p', { requireTicket: { pattern: null } }),
      input({ durationMs: 1 }),
      limits,
      noFacts,
      new Set(),
    );
    expect(r?.field).toBe('spec.duration');
  });
});

function usage(over: Partial<UsageRecord>): UsageRecord {
  return {
    requestId: 'r1',
    requester: 'alice',
    policy: 'p',
    targets: [target()],
    live: true,
    endsAt: at('11:00'),
    endedAt: null,
    ...over,
  };
}
const ended = (endedAt: Date, over: Partial<UsageRecord> = {}) =>
  usage({ live: false, endsAt: null, endedAt, ...over });

describe('cooldown', () => {
  const p = policy('p', { cooldownMs: HOUR });
  it.each<[string, UsageRecord[], Date | null]>([
    ['none before', [], null],
    ['the same target ended 30m ago', [ended(at('09:30'))], at('10:30')],
    [
      'the latest of several counts',
      [ended(at('09:10'), { requestId: 'a' }), ended(at('09:40'), { requestId: 'b' })],
      at('10:40'),
    ],
    ['ended exactly one cooldown ago: free', [ended(at('09:00'))], null],
    ['someone else’s grant', [ended(at('09:30'), { requester: 'bob' })], null],
    ['another policy’s grant', [ended(at('09:30'), { policy: 'q' })], null],
    ['another namespace', [ended(at('09:30'), { targets: [target({ namespace: 'orders' })] })], null],
    ['another role kind', [ended(at('09:30'), { targets: [target({ roleKind: 'Role' })] })], null],
    ['a live grant is no cooldown', [usage({})], null],
    [
      'one target in common is enough',
      [ended(at('09:30'), { targets: [target({ namespace: 'orders' }), target()] })],
      at('10:30'),
    ],
  ])('%s', (_name, records, freesAt) => {
    const r = checkLimits(p, input(), limits, records, now);
    if (freesAt === null) expect(r).toBeNull();
    else {
      expect(r?.kind).toBe('limit');
      expect(r?.freesAt).toEqual(freesAt);
      expect(r?.message).toContain('policy p has a cooldown of 1h (cooldown)');
      expect(r?.message).toContain(`frees up at ${freesAt.toISOString()}`);
    }
  });

  it('does nothing without a cooldown', () => {
    expect(checkLimits(policy('p'), input(), limits, [ended(at('09:59'))], now)).toBeNull();
  });
});

describe('live-grant limits', () => {
  const two = [
    usage({ requestId: 'a', endsAt: at('12:00') }),
    usage({ requestId: 'b', endsAt: at('11:15') }),
  ];
  it.each<[string, Partial<Policy>, Partial<Limits>, UsageRecord[], string | null, Date | null]>([
    [
      'policy maxActivePerUser reached',
      { maxActivePerUser: 2 },
      {},
      two,
      'policy p allows 2 live grants per user (maxActivePerUser); the next frees up at 2026-05-06T11:15:00.000Z',
      at('11:15'),
    ],
    ['policy maxActivePerUser not reached', { maxActivePerUser: 3 }, {}, two, null, null],
    [
      'maxActivePerUser counts only mine',
      { maxActivePerUser: 1 },
      {},
      [usage({ requester: 'bob' })],
      null,
      null,
    ],
    [
      'maxActivePerUser counts only this policy',
      { maxActivePerUser: 1 },
      {},
      [usage({ policy: 'q' })],
      null,
      null,
    ],
    ['ended grants do not count', { maxActivePerUser: 1 }, {}, [ended(at('09:00'))], null, null],
    [
      'policy maxActive counts everyone',
      { maxActive: 2 },
      {},
      [usage({ requester: 'bob' }), usage({ requester: 'carol', endsAt: at('10:30') })],
      'policy p allows 2 live grants at once (maxActive); the next frees up at 2026-05-06T10:30:00.000Z',
      at('10:30'),
    ],
    ['policy maxActive ignores other policies', { maxActive: 1 }, {}, [usage({ policy: 'q' })], null, null],
    [
      'global maxActivePerUser counts every policy',
      {},
      { maxActivePerUser: 2 },
      [usage({ policy: 'q' }), usage({ policy: 'r', endsAt: at('13:00') })],
      'Elevate allows 2 live grants per user (limits.maxActivePerUser); the next frees up at 2026-05-06T11:00:00.000Z',
      at('11:00'),
    ],
    [
      'global maxActive counts everyone',
      {},
      { maxActive: 1 },
      [usage({ requester: 'bob', policy: 'q' })],
      'Elevate allows 1 live grant at once (limits.maxActive); the next frees up at 2026-05-06T11:00:00.000Z',
      at('11:00'),
    ],
    [
      'approved grants not yet active: no date to give',
      { maxActivePerUser: 1 },
      {},
      [usage({ endsAt: null })],
      'policy p allows 1 live grant per user (maxActivePerUser); the next frees up when one of them is activated and ends',
      null,
    ],
    [
      'the policy limit is named before the global one',
      { maxActivePerUser: 2 },
      { maxActivePerUser: 2 },
      two,
      'policy p allows 2 live grants per user (maxActivePerUser); the next frees up at 2026-05-06T11:15:00.000Z',
      at('11:15'),
    ],
  ])('%s', (_name, over, limitsOver, records, message, freesAt) => {
    const r = checkLimits(policy('p', over), input(), { ...limits, ...limitsOver }, records, now);
    if (message === null) expect(r).toBeNull();
    else
      expect(r).toEqual(freesAt === null ? { kind: 'limit', message } : { kind: 'limit', message, freesAt });
  });

  it('a cooldown is checked before the counts', () => {
    const p = policy('p', { cooldownMs: HOUR, maxActivePerUser: 1 });
    expect(checkLimits(p, input(), limits, [usage({}), ended(at('09:30'))], now)?.message).toMatch(
      /cooldown/,
    );
  });
});
