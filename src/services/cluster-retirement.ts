import type { AccessRequest } from '../domain/access-request.js';
import { requestEvent, systemActor } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import type { GrantService } from './grant-service.js';
import type { KeyedLock } from './keyed-lock.js';
import type { ManagedCluster, Store } from './ports.js';

export interface ClusterRetirementDeps {
  store: Pick<Store, 'listRequests' | 'getRequest' | 'updateRequest' | 'appendAudit'>;
  grants: Pick<GrantService, 'settle'>;
  withLock: KeyedLock;
  clock: Clock;
  onChange: (request: AccessRequest) => void;
  /** A revocation whose removal could not be made now; its intent is saved, so the scheduler retries it. */
  onError: (requestId: string, error: Error) => void;
}

/**
 * What happens when a cluster stops being managed (its cluster Secret deleted, or its label removed): no
 * access outlives Elevate's hold on the cluster, so every live grant there is revoked by system:elevate
 * at once, its bindings removed while the connection is still known. Approved and scheduled requests
 * are refused when they would write their bindings (the gateway refuses writes to a retired cluster).
 */
export function createClusterRetirement(deps: ClusterRetirementDeps) {
  const { store, clock } = deps;

  /** Saves the revocation intent; null when the request is no longer active, or already being revoked. */
  function intendRevocation(id: string, reason: string): Promise<AccessRequest | null> {
    return deps.withLock(id, async () => {
      const r = await store.getRequest(id);
      if (r?.phase !== 'Active' || r.revocation) return null;
      const now = clock.now();
      const next: AccessRequest = {
        ...r,
        revocation: { by: systemActor, reason, at: now },
        updatedAt: now,
        message: `revocation requested by ${systemActor}: ${reason}`,
      };
      return store.updateRequest(next, [requestEvent(next, systemActor, 'ClusterRetired', now, { reason })]);
    });
  }

  return {
    /** Records the cluster's arrival, change or departure in the audit trail. */
    async record(action: 'ClusterAdded' | 'ClusterUpdated' | 'ClusterRemoved', cluster: ManagedCluster) {
      await store.appendAudit([
        {
          time: clock.now(),
          actor: systemActor,
          action,
          requestId: null,
          cluster: cluster.name,
          details: { source: cluster.source, labels: cluster.labels },
        },
      ]);
    },

    /** Revokes every active grant with a binding on the cluster; returns their ids. */
    async retire(cluster: ManagedCluster): Promise<string[]> {
      const reason = `cluster ${cluster.name} is no longer managed by Elevate (${cluster.source} was removed)`;
      const live = await store.listRequests({ phases: ['Active'] });
      const revoked: string[] = [];
      for (const r of live.filter((x) => x.spec.targets.some((t) => t.cluster === cluster.name))) {
        const intent = await intendRevocation(r.id, reason);
        if (!intent) continue;
        revoked.push(r.id);
        try {
          deps.onChange(await deps.grants.settle(r.id));
        } catch (e) {
          deps.onError(r.id, e as Error);
          deps.onChange(intent);
        }
      }
      return revoked;
    },
  };
}
