import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { type DestinationStream, type Logger, pino } from 'pino';
import { createTokenFileAuthenticator } from './adapters/auth/token-file-authenticator.js';
import { createKubeClusterGateway } from './adapters/kube/kube-cluster-gateway.js';
import { createPostgresLease } from './adapters/lease/postgres-lease.js';
import { soleLease } from './adapters/lease/sole-lease.js';
import { createMetrics, observeAuditWrites } from './adapters/metrics/prometheus-metrics.js';
import { openStore } from './adapters/store/open-store.js';
import { type Config, ConfigError } from './config/load-config.js';
import type { AccessRequest } from './domain/access-request.js';
import { systemClock } from './domain/clock.js';
import type { HttpApp } from './http/create-http-app.js';
import { createDriftReconciler } from './jobs/drift-reconciler.js';
import { createGrantScheduler } from './jobs/grant-scheduler.js';
import { createLeaderJobs } from './jobs/leader-jobs.js';
import { createGrantService } from './services/grant-service.js';
import { createKeyedLock } from './services/keyed-lock.js';
import { createRequestService } from './services/request-service.js';
import { version } from './version.js';

export interface Elevate {
  /** Catches up on what fell due while down, starts the jobs, then listens. Returns the URL. */
  start(): Promise<string>;
  /** One drift pass over every cluster, now rather than at the next interval (leader only). */
  reconcileNow(): Promise<void>;
  /** Whether this server holds the lease and runs the timers and drift repair. */
  isLeader(): boolean;
  stop(): Promise<void>;
}

/** JSON logs to stdout (or `destination`). Request logs carry method and URL, never headers. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: ['req.headers.authorization', '*.token', '*.kubeconfig'], censor: '[redacted]' },
    },
    destination,
  );
}

/** Runs a step that reads a file the config names; a failure names the config file and field. */
function inConfig<T>(config: Config, field: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    throw new ConfigError(`${config.file}: ${field}: ${(e as Error).message}`);
  }
}

/** The one place where Elevate's parts are built and wired together. */
export async function composeElevate(
  config: Config,
  logger: Logger = createLogger(config.logLevel),
): Promise<Elevate> {
  const clock = systemClock;
  // Everything read from outside files first, so a bad token file or kubeconfig fails the start
  // before anything (the database) is created.
  const authenticator = inConfig(config, 'auth.tokenFile', () =>
    createTokenFileAuthenticator(config.auth.tokenFile, (e) =>
      logger.error({ err: e.message }, 'token file reload failed; keeping the previous tokens'),
    ),
  );
  const tlsFiles = config.tls;
  const tls = tlsFiles
    ? inConfig(config, 'tls', () => ({
        cert: readFileSync(tlsFiles.certFile),
        key: readFileSync(tlsFiles.keyFile),
      }))
    : null;
  const clusterNames = config.clusters.map((c) => c.name);
  const clusters = inConfig(config, 'clusters', () => createKubeClusterGateway(config.clusters));
  const opened = await openStore(config.storage).catch((e: Error) => {
    throw new ConfigError(
      `${config.file}: storage: cannot open the ${config.storage.kind} store: ${e.message}`,
    );
  });
  const metrics = createMetrics(opened);
  const store = observeAuditWrites(opened, metrics.observeAudit);
  const withLock = createKeyedLock();
  const grants = createGrantService({ store, clusters, clock, withLock });
  const logChange = (r: AccessRequest) =>
    logger.info(
      { request: r.id, phase: r.phase, user: r.spec.requester, cluster: r.spec.cluster },
      r.message,
    );
  metrics.countTimersWith(() => jobs.timerCount());
  const requests = createRequestService({
    store,
    clusters,
    grants,
    clusterNames,
    policies: config.policies,
    guardrails: config.guardrails,
    admins: config.auth.admins,
    clock,
    withLock,
    onChange: (r) => {
      logChange(r);
      jobs.track(r);
    },
    onSettleError: (r, err) =>
      logger.warn({ request: r.id, err: err.message }, 'could not settle now; will retry'),
  });
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
      clusterNames,
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
  const jobs = createLeaderJobs({
    lease: storage.kind === 'postgres' ? createPostgresLease(storage.url) : soleLease,
    store,
    clock,
    newScheduler,
    newDrift,
    catchUpWithinMs: 10_000,
    pollEveryMs: shared ? 1000 : null,
    clusterNames,
    onLeadershipChange: (leading) => {
      metrics.setLeader(leading);
      logger.info({ leading }, leading ? 'leading: running the timers and drift repair' : 'following');
    },
    onError: (step, err) => logger.warn({ step, err: err.message }, 'job step failed; will retry'),
  });
  let ready = false;
  let metricsServer: Server | undefined;
  let app: HttpApp | undefined;

  return {
    async start() {
      // Catch up before serving: anything that expired while Elevate was down is removed first
      // (by the leader; a follower serves at once and leaves the timers to the leader).
      await jobs.start();
      // Loaded only now: after a crash, the catch-up above should not wait for the HTTP stack to load.
      const { createHttpApp } = await import('./http/create-http-app.js');
      app = await createHttpApp({
        logger,
        authenticator,
        requests,
        store,
        tls,
        isReady: () => ready,
        version,
      });
      const url = await app.listen({ host: config.listen.host, port: config.listen.port });
      if (config.metrics) metricsServer = await metrics.serve(config.metrics.host, config.metrics.port);
      ready = true;
      logger.info({ url, clusters: clusterNames }, 'elevate is ready');
      return url;
    },
    reconcileNow: () => jobs.reconcileNow(),
    isLeader: () => jobs.isLeader(),
    async stop() {
      ready = false;
      await jobs.stop();
      await app?.close();
      metricsServer?.close();
      await store.close();
    },
  };
}
