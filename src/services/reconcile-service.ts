import { Forbidden, Unavailable } from '../domain/errors.js';
import type { Identity } from '../domain/identity.js';
import type { ClusterPass, DriftReport } from '../jobs/drift-reconciler.js';

export interface ReconcileServiceDeps {
  /** Runs a drift pass over every cluster; null when this server does not hold the lease. */
  reconcileNow: () => Promise<ClusterPass[] | null>;
  isAdmin: (who: Identity) => boolean;
}

export interface ClusterReconcileOutcome {
  cluster: string;
  /** The repairs made, by kind; absent when the pass failed. */
  report: Omit<DriftReport, 'cluster'> | null;
  /** Why the pass failed. */
  error: string | null;
}

export type ReconcileService = ReturnType<typeof createReconcileService>;

/** An admin's "repair drift now" rather than at the next periodic pass (after a cluster outage, say). */
export function createReconcileService({ reconcileNow, isAdmin }: ReconcileServiceDeps) {
  return {
    async reconcile(who: Identity): Promise<ClusterReconcileOutcome[]> {
      if (!isAdmin(who)) throw new Forbidden(`${who.user} may not run drift repair (auth.admins only)`);
      const results = await reconcileNow();
      if (!results) {
        throw new Unavailable('this server does not hold the lease; the leader runs drift repair');
      }
      return results.map(({ cluster, result }) => {
        if (result.status === 'rejected') {
          return { cluster, report: null, error: (result.reason as Error).message };
        }
        const { cluster: _, ...report } = result.value;
        return { cluster, report, error: null };
      });
    },
  };
}
