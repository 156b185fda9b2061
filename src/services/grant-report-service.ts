import type { AccessRequest } from '../domain/access-request.js';
import type { ActivityRecord } from '../domain/activity.js';
import type { Clock } from '../domain/clock.js';
import type { GrantReport } from '../domain/grant-report.js';
import type { Identity } from '../domain/identity.js';
import type { Store } from './ports.js';

export interface GrantReportDeps {
  /** Loads a request the caller may see (requester, asker, approver, admin), or throws NotFound/Forbidden. */
  load: (who: Identity, id: string) => Promise<AccessRequest>;
  store: Pick<Store, 'listActivity' | 'countActivity' | 'listAuditForRequest' | 'findReviewByRequest'>;
  clock: Clock;
}

/** Actions in a report: enough for a review; the rest stay one `elevate activity -o json` away. */
const reportActions = 1_000;

/** What was done under a grant, and the report of the whole grant, for whoever may see the request. */
export function createGrantReportService({ load, store, clock }: GrantReportDeps) {
  async function activityOf(id: string, limit: number): Promise<{ count: number; items: ActivityRecord[] }> {
    const [count, items] = await Promise.all([store.countActivity(id), store.listActivity(id, limit)]);
    return { count, items };
  }

  return {
    async activity(who: Identity, id: string, limit: number) {
      await load(who, id);
      return activityOf(id, limit);
    },

    async report(who: Identity, id: string): Promise<GrantReport> {
      const request = await load(who, id);
      const [timeline, activity, review] = await Promise.all([
        store.listAuditForRequest(id),
        activityOf(id, reportActions),
        store.findReviewByRequest(id),
      ]);
      return { request, timeline, activity, review, generatedAt: clock.now() };
    },
  };
}

export type GrantReportService = ReturnType<typeof createGrantReportService>;
