import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AccessRequest } from '../../src/domain/access-request.js';
import { createGrantScheduler } from '../../src/jobs/grant-scheduler.js';
import { accessRequest } from '../support/fixtures.js';

const clock = { now: () => new Date() };

function active(id: string, expiresInMs: number): AccessRequest {
  const now = new Date();
  return accessRequest({
    id,
    at: now,
    phase: 'Active',
    spec: { durationMs: expiresInMs },
    policy: { decision: 'auto', required: 0 },
    grant: { bindings: [], activatedAt: now, expiresAt: new Date(now.getTime() + expiresInMs) },
  });
}

const expired = (r: AccessRequest): AccessRequest => ({ ...r, phase: 'Expired' });

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('grant scheduler', () => {
  it('fires exactly at expiry, not before', async () => {
    const request = active('ar-1', 1500);
    const settle = vi.fn(async () => expired(request));
    const onSettled = vi.fn();
    const scheduler = createGrantScheduler({ settle, clock, onError: () => {}, onSettled });
    scheduler.track(request);
    await vi.advanceTimersByTimeAsync(1499);
    expect(settle).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(settle).toHaveBeenCalledWith('ar-1');
    expect(onSettled).toHaveBeenCalledWith(expect.objectContaining({ id: 'ar-1', phase: 'Expired' }));
    expect(scheduler.pendingCount()).toBe(0);
  });

  it('never settles before the clock says the grant has ended, even when its timer fires early', async () => {
    // The wall clock stepping back (NTP) or rounding makes a timer fire before expiresAt by the clock.
    let skewMs = 0;
    const skewed = { now: () => new Date(Date.now() + skewMs) };
    const request = active('ar-early', 1500);
    const settledAt: number[] = [];
    const settle = vi.fn(async () => {
      settledAt.push(skewed.now().getTime());
      return expired(request);
    });
    const scheduler = createGrantScheduler({ settle, clock: skewed, onError: () => {}, onSettled: () => {} });
    scheduler.track(request);
    await vi.advanceTimersByTimeAsync(1499);
    skewMs = -5;
    await vi.advanceTimersByTimeAsync(5);
    expect(settle).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(settle).toHaveBeenCalledTimes(1);
    expect(settledAt[0]).toBeGreaterThanOrEqual(request.grant?.expiresAt.getTime() ?? 0);
  });

  it('retries a failing settle with growing backoff until it succeeds', async () => {
    const request = active('ar-2', 0);
    let calls = 0;
    const settle = vi.fn(async () => {
      calls++;
      if (calls < 4) throw new Error('cluster unreachable');
      return expired(request);
    });
    const retries: number[] = [];
    const scheduler = createGrantScheduler({
      settle,
      clock,
      onError: (_id, _e, inMs) => retries.push(inMs),
      onSettled: () => {},
    });
    scheduler.track(request);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(retries).toEqual([500, 1000, 2000]);
    expect(settle).toHaveBeenCalledTimes(4);
    expect(scheduler.pendingCount()).toBe(0);
  });

  it('keeps a backoff in place when the same request is tracked again meanwhile', async () => {
    const request = active('ar-3', 0);
    const settle = vi.fn(async (): Promise<AccessRequest> => {
      throw new Error('down');
    });
    const scheduler = createGrantScheduler({ settle, clock, onError: () => {}, onSettled: () => {} });
    scheduler.track(request);
    await vi.advanceTimersByTimeAsync(1);
    expect(settle).toHaveBeenCalledTimes(1);
    scheduler.track(request);
    await vi.advanceTimersByTimeAsync(100);
    expect(settle).toHaveBeenCalledTimes(1);
    scheduler.stop();
  });

  it('waits out expiries beyond what one timer can hold', async () => {
    const forty = 40 * 24 * 3600 * 1000;
    const request = active('ar-4', forty);
    const settle = vi.fn(async () => expired(request));
    const scheduler = createGrantScheduler({ settle, clock, onError: () => {}, onSettled: () => {} });
    scheduler.track(request);
    await vi.advanceTimersByTimeAsync(forty - 1);
    expect(settle).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(settle).toHaveBeenCalledTimes(1);
  });

  it('works off a burst of expiries a bounded number at a time', async () => {
    let settling = 0;
    let most = 0;
    const requests = Array.from({ length: 100 }, (_, i) => active(`ar-b${i}`, 1000));
    const settle = vi.fn(async (id: string) => {
      settling++;
      most = Math.max(most, settling);
      await new Promise((r) => setTimeout(r, 50));
      settling--;
      return expired(requests.find((r) => r.id === id) as AccessRequest);
    });
    const scheduler = createGrantScheduler({ settle, clock, onError: () => {}, onSettled: () => {} });
    for (const r of requests) scheduler.track(r);
    await vi.advanceTimersByTimeAsync(2000);
    expect(settle).toHaveBeenCalledTimes(100);
    expect(most).toBe(64);
    await scheduler.idle();
  });

  it('forgets requests that reach a final phase', async () => {
    const request = active('ar-5', 60_000);
    const settle = vi.fn(async () => expired(request));
    const scheduler = createGrantScheduler({ settle, clock, onError: () => {}, onSettled: () => {} });
    scheduler.track(request);
    expect(scheduler.pendingCount()).toBe(1);
    scheduler.track({ ...request, phase: 'Revoked' });
    expect(scheduler.pendingCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(settle).not.toHaveBeenCalled();
  });
});

describe('start-up catch-up', () => {
  it('settles what fell due while down before resolving, and only tracks the rest', async () => {
    const overdue = active('ar-old', -5000);
    const later = active('ar-new', 60_000);
    const settled: string[] = [];
    const settle = vi.fn(async (id: string) => {
      await new Promise((r) => setTimeout(r, 30));
      settled.push(id);
      return expired(id === 'ar-old' ? overdue : later);
    });
    const scheduler = createGrantScheduler({ settle, clock, onError: () => {}, onSettled: () => {} });
    const done = scheduler.catchUp([overdue, later], 10_000);
    await vi.advanceTimersByTimeAsync(30);
    await done;
    expect(settled).toEqual(['ar-old']);
    expect(scheduler.pendingCount()).toBe(1);
    scheduler.stop();
  });

  it('waits for a settle that fails at once to succeed on a retry, not just to have run', async () => {
    const overdue = active('ar-refused', -1);
    let calls = 0;
    const settle = vi.fn(async () => {
      calls++;
      if (calls < 3) throw new Error('connection refused');
      return expired(overdue);
    });
    const scheduler = createGrantScheduler({ settle, clock, onError: () => {}, onSettled: () => {} });
    let resolved = false;
    const done = scheduler.catchUp([overdue], 10_000).then(() => {
      resolved = true;
    });
    // Two quick failures, retried after 500 ms and then 1 s: the catch-up is not over after either.
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toBe(2);
    expect(resolved).toBe(false);
    await vi.advanceTimersByTimeAsync(500);
    await done;
    expect(calls).toBe(3);
    expect(resolved).toBe(true);
    scheduler.stop();
  });

  it('does not wait longer than asked for a cluster that does not answer', async () => {
    const settle = vi.fn((): Promise<AccessRequest> => new Promise(() => {}));
    const scheduler = createGrantScheduler({ settle, clock, onError: () => {}, onSettled: () => {} });
    let resolved = false;
    const done = scheduler.catchUp([active('ar-stuck', -1)], 2000).then(() => {
      resolved = true;
    });
    await vi.advanceTimersByTimeAsync(1999);
    expect(resolved).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await done;
    expect(resolved).toBe(true);
    scheduler.stop();
  });
});
