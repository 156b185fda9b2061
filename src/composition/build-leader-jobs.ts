import type { Logger } from 'pino';
import { createPostgresLease } from '../adapters/lease/postgres-lease.js';
import { soleLease } from '../adapters/lease/sole-lease.js';
import type { Config } from '../config/load-config.js';
import type { AccessRequest } from '../domain/access-request.js';
import type { Clock } from '../domain/clock.js';
import { createDriftReconciler } from '../jobs/drift-reconciler.js';
import { createGrantScheduler } from '../jobs/grant-scheduler.js';
import { createLeaderJobs } from '../jobs/leader-jobs.js';
import type { LeaderLoop } from '../jobs/periodic-loop.js';
import type { GrantService } from '../services/grant-service.js';
import type { ClusterDirectory, PolicySource } from '../services/ports.js';
import type { Adapters } from './open-adapters.js';

export interface LeaderJobsParts {
  config: Config;
  adapters: Pick<Adapters, 'store' | 'clusters' | 'metrics'>;
  directory: ClusterDirectory;
  /** The policy set in force: where each cluster keeps credential grants' ServiceAccounts. */
  policySource: PolicySource;
  grants: GrantService;
  clock: Clock;
  logger: Logger;
  logChange: (request: AccessRequest) => void;
  /** The other leader-only loops, built afresh for each term (see composition/build-*.ts). */
  newLoops?: () => LeaderLoop[];
}

/** The timers and drift repair, run by whichever server holds the lease (always this one with SQLite). */
export function buildLeaderJobs({
  config,
  adapters,
  directory,
  policySource,
  grants,
  clock,
  logger,
  logChange,
  newLoops,
}: LeaderJobsParts) {
  const { store, clusters, metrics } = adapters;
  const newScheduler = () =>
    createGrantScheduler({
      settle: grants.settle,
      clock,
      onError: (id, err, retryInMs) => {
        metrics.clusterFailed('grants');
        logger.warn({ request: id, err: err.message, retryInMs }, 'settle failed; will retry');
      },
      onSettled: (r) => logChange(r),
    });
  const newDrift = () =>
    createDriftReconciler({
      store,
      clusters,
      grants,
      directory,
      credentialNamespaces: (cluster) => {
        const grants = policySource.current().clusterGrants?.[cluster];
        return grants?.mechanisms.includes('credential') ? [grants.credentialNamespace] : [];
      },
      clock,
      intervalMs: config.reconcileIntervalMs,
      onError: (cluster, err) => {
        metrics.clusterFailed('drift');
        logger.warn({ cluster, err: err.message }, 'drift reconcile failed; backing off');
      },
      onRepair: (e) =>
        logger.warn({ cluster: e.cluster, request: e.requestId, action: e.action }, 'drift repaired'),
    });
  const { storage } = config;
  const shared = storage.kind === 'postgres';
  return createLeaderJobs({
    lease: storage.kind === 'postgres' ? createPostgresLease(storage.url) : soleLease,
    store,
    clock,
    newScheduler,
    newDrift,
    ...(newLoops ? { newLoops } : {}),
    catchUpWithinMs: 10_000,
    pollEveryMs: shared ? 1000 : null,
    onLeadershipChange: (leading) => {
      metrics.setLeader(leading);
      // The audit head goes to the logs at each change of leader, so whoever keeps the logs holds a head
      // to check the trail against later (`elevate audit verify --expect-head`).
      void store.auditHead().then(
        (auditHead) =>
          logger.info(
            { leading, auditHead },
            leading ? 'leading: running the timers and drift repair' : 'following',
          ),
        (err: Error) => logger.warn({ leading, err: err.message }, 'could not read the audit head'),
      );
    },
    onError: (step, err) => logger.warn({ step, err: err.message }, 'job step failed; will retry'),
  });
}
