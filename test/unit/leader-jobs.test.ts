import { describe, expect, it, vi } from 'vitest';
import type { DriftReconciler } from '../../src/jobs/drift-reconciler.js';
import type { GrantScheduler } from '../../src/jobs/grant-scheduler.js';
import { createLeaderJobs } from '../../src/jobs/leader-jobs.js';
import type { Lease } from '../../src/services/ports.js';
import { accessRequest } from '../support/fixtures.js';

/** A lease the test hands out and takes back. */
function manualLease() {
  let report: ((held: boolean) => Promise<void>) | undefined;
  const lease: Lease = {
    async start(onChange) {
      report = onChange;
    },
    stop: vi.fn(async () => {}),
  };
  return { lease, set: (held: boolean) => report?.(held) };
}

function jobParts() {
  const schedulers: GrantScheduler[] = [];
  const drifts: DriftReconciler[] = [];
  const newScheduler = () => {
    const s = {
      track: vi.fn(),
      catchUp: vi.fn(async () => {}),
      idle: vi.fn(async () => {}),
      stop: vi.fn(),
      pendingCount: () => 0,
    } as GrantScheduler;
    schedulers.push(s);
    return s;
  };
  const newDrift = () => {
    const d = {
      reconcileAll: vi.fn(async () => []),
      start: vi.fn(),
      stop: vi.fn(),
    } as unknown as DriftReconciler;
    drifts.push(d);
    return d;
  };
  return { schedulers, drifts, newScheduler, newDrift };
}

describe('leader jobs', () => {
  it('run only while the lease is held, each term with a fresh catch-up', async () => {
    const live = [accessRequest({ id: 'ar-live' })];
    const { lease, set } = manualLease();
    const parts = jobParts();
    const changes: boolean[] = [];
    const jobs = createLeaderJobs({
      lease,
      store: { listRequests: async () => live, auditHead: async () => null },
      clock: { now: () => new Date() },
      newScheduler: parts.newScheduler,
      newDrift: parts.newDrift,
      catchUpWithinMs: 1000,
      pollEveryMs: null,
      onLeadershipChange: (leading) => changes.push(leading),
      onError: () => {},
    });
    await jobs.start();
    expect(jobs.isLeader()).toBe(false);
    jobs.track(accessRequest());
    expect(parts.schedulers).toHaveLength(0);

    await set(true);
    expect(jobs.isLeader()).toBe(true);
    const [first] = parts.schedulers as [GrantScheduler];
    expect(first.catchUp).toHaveBeenCalledWith(live, 1000);
    expect(parts.drifts[0]?.start).toHaveBeenCalled();
    const request = accessRequest({ id: 'ar-new' });
    jobs.track(request);
    expect(first.track).toHaveBeenCalledWith(request);

    await set(false);
    expect(jobs.isLeader()).toBe(false);
    expect(first.stop).toHaveBeenCalled();
    expect(parts.drifts[0]?.stop).toHaveBeenCalled();
    jobs.track(request);
    expect(first.track).toHaveBeenCalledTimes(1);

    await set(true);
    expect(parts.schedulers).toHaveLength(2);
    expect(parts.schedulers[1]?.catchUp).toHaveBeenCalled();
    expect(changes).toEqual([true, false, true]);

    await jobs.stop();
    expect(lease.stop).toHaveBeenCalled();
    expect(parts.schedulers[1]?.stop).toHaveBeenCalled();
  });
});

describe('leader jobs polling for other servers', () => {
  it('after a failed catch-up, the next poll looks at every live request, then only at changes after the cursor', async () => {
    vi.useFakeTimers();
    try {
      const { lease, set } = manualLease();
      const parts = jobParts();
      const filters: unknown[] = [];
      let failNext = true;
      const errors: string[] = [];
      const jobs = createLeaderJobs({
        lease,
        store: {
          listRequests: async (filter) => {
            filters.push(filter);
            if (failNext) {
              failNext = false;
              throw new Error('database away');
            }
            return [accessRequest({ id: 'ar-overdue' })];
          },
          auditHead: async () => ({ seq: 7, hash: 'h' }),
        },
        clock: { now: () => new Date() },
        newScheduler: parts.newScheduler,
        newDrift: parts.newDrift,
        catchUpWithinMs: 1000,
        pollEveryMs: 1000,
        onLeadershipChange: () => {},
        onError: (step) => errors.push(step),
      });
      await jobs.start();
      await set(true);
      expect(errors).toEqual(['catch-up']);
      await vi.advanceTimersByTimeAsync(1000);
      expect(filters[1]).toEqual({ phases: ['Pending', 'Approved', 'Scheduled', 'Active'] });
      expect(parts.schedulers[0]?.track).toHaveBeenCalledWith(expect.objectContaining({ id: 'ar-overdue' }));
      await vi.advanceTimersByTimeAsync(1000);
      // From then on only what changed after the audit head the previous poll read first.
      expect(filters[2]).toEqual({ changedAfterSeq: 7 });
      await jobs.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('a term lost while it starts', () => {
  it('does not start drift repair or polls once the lease is gone', async () => {
    vi.useFakeTimers();
    try {
      const { lease, set } = manualLease();
      const parts = jobParts();
      let finishCatchUp: () => void = () => {};
      const jobs = createLeaderJobs({
        lease,
        store: { listRequests: async () => [], auditHead: async () => null },
        clock: { now: () => new Date() },
        newScheduler: () => {
          const s = parts.newScheduler();
          s.catchUp = vi.fn(() => new Promise<void>((resolve) => (finishCatchUp = resolve)));
          return s;
        },
        newDrift: parts.newDrift,
        catchUpWithinMs: 1000,
        pollEveryMs: 1000,
        onLeadershipChange: () => {},
        onError: () => {},
      });
      await jobs.start();
      const leading = set(true);
      await vi.advanceTimersByTimeAsync(0);
      await set(false);
      finishCatchUp();
      await leading;
      expect(parts.drifts[0]?.reconcileAll).not.toHaveBeenCalled();
      expect(parts.drifts[0]?.start).not.toHaveBeenCalled();
      expect(vi.getTimerCount()).toBe(0);
      await jobs.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
