import { describe, expect, inject, it, vi } from 'vitest';
import { soleLease } from '../../src/adapters/lease/sole-lease.js';
import { openPostgresStore } from '../../src/adapters/store/postgres-store.js';
import { systemClock } from '../../src/domain/clock.js';
import type { DriftReconciler } from '../../src/jobs/drift-reconciler.js';
import { createGrantScheduler } from '../../src/jobs/grant-scheduler.js';
import { createLeaderJobs } from '../../src/jobs/leader-jobs.js';
import { accessRequest } from '../support/fixtures.js';
import { waitFor } from '../support/kube.js';
import { createDatabase } from '../support/postgres-server.js';

describe("the leader's poll for other servers' changes", () => {
  it('times a request another server saved with a clock a minute behind', async () => {
    const url = await createDatabase(inject('postgresUrl'), 'poll');
    const leaderStore = await openPostgresStore(url);
    const otherServer = await openPostgresStore(url);
    const settle = vi.fn(async () => {
      throw new Error('nothing falls due in this test');
    });
    const jobs = createLeaderJobs({
      lease: soleLease,
      store: leaderStore,
      clock: systemClock,
      newScheduler: () =>
        createGrantScheduler({ settle, clock: systemClock, onError: () => {}, onSettled: () => {} }),
      newDrift: () =>
        ({ reconcileAll: async () => [], start: () => {}, stop: () => {} }) as unknown as DriftReconciler,
      catchUpWithinMs: 1000,
      pollEveryMs: 100,
      onLeadershipChange: () => {},
      onError: (step, e) => {
        throw new Error(`${step}: ${e.message}`);
      },
    });
    try {
      await jobs.start();
      expect(jobs.timerCount()).toBe(0);
      // Let a few polls pass first, so the change lands well after the leader began looking.
      await new Promise((resolve) => setTimeout(resolve, 500));

      // Its clock runs a minute slow: every timestamp it writes is a minute old when it commits, as a commit
      // that lands late would be. What is due (the approval deadline) is an hour away all the same.
      const skewed = new Date(Date.now() - 60_000);
      const pending = accessRequest({
        id: 'ar-skewed',
        at: skewed,
        policy: { approvalDeadline: new Date(Date.now() + 3_600_000) },
      });
      await otherServer.createRequest(pending, [
        {
          time: skewed,
          actor: 'alice',
          action: 'RequestCreated',
          requestId: pending.id,
          cluster: 'dev',
          details: {},
        },
      ]);

      await waitFor(() => jobs.timerCount() === 1, { timeoutMs: 5000 });
      expect(settle).not.toHaveBeenCalled();
    } finally {
      await jobs.stop();
      await leaderStore.close();
      await otherServer.close();
    }
  });
});
