import type { Server } from 'node:http';
import { type DestinationStream, type Logger, pino } from 'pino';
import { buildLeaderJobs } from './composition/build-leader-jobs.js';
import { openAdapters } from './composition/open-adapters.js';
import type { Config } from './config/load-config.js';
import type { AccessRequest } from './domain/access-request.js';
import { systemClock } from './domain/clock.js';
import type { HttpApp } from './http/create-http-app.js';
import { createAuditService } from './services/audit-service.js';
import { createGrantService } from './services/grant-service.js';
import { createKeyedLock } from './services/keyed-lock.js';
import { createReconcileService } from './services/reconcile-service.js';
import { createRequestService } from './services/request-service.js';
import { version } from './version.js';

export interface Elevate {
  /** Catches up on what fell due while down, starts the jobs, then listens. Returns the URL. */
  start(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * JSON logs to stdout (or `destination`). Request logs carry the method and the path, never headers or the
 * query string: a token pasted into a URL must not reach a log.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: ['req.headers.authorization', '*.token', '*.kubeconfig'], censor: '[redacted]' },
      serializers: { req: requestForLog },
    },
    destination,
  );
}

/** Replaces Fastify's request serializer, which logs the whole URL. */
function requestForLog(req: { method?: string; url?: string; ip?: string }) {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  return {
    method: req.method,
    url: query === -1 ? url : `${url.slice(0, query)}?[redacted]`,
    remoteAddress: req.ip,
  };
}

/** The one place where Elevate's parts are built and wired together. */
export async function composeElevate(
  config: Config,
  logger: Logger = createLogger(config.logLevel),
): Promise<Elevate> {
  const clock = systemClock;
  const adapters = await openAdapters(config, logger);
  const { authenticator, tls, clusters, metrics, store } = adapters;
  const clusterNames = config.clusters.map((c) => c.name);
  const withLock = createKeyedLock();
  const grants = createGrantService({ store, clusters, clock, withLock });
  const logChange = (r: AccessRequest) =>
    logger.info(
      { request: r.id, phase: r.phase, user: r.spec.requester, cluster: r.spec.cluster },
      r.message,
    );
  const jobs = buildLeaderJobs({ config, adapters, grants, clock, logger, logChange });
  metrics.countTimersWith(() => jobs.timerCount());
  const requests = createRequestService({
    store,
    clusters,
    grants,
    clusterNames,
    policies: config.policies,
    guardrails: config.guardrails,
    limits: config.limits,
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
        audit: createAuditService({ store, isAdmin: requests.isAdmin }),
        reconcile: createReconcileService({
          reconcileNow: jobs.reconcileNow,
          clusterNames,
          isAdmin: requests.isAdmin,
        }),
        isLeader: jobs.isLeader,
        tls,
        isReady: () => ready,
        version,
        contract: { clusterNames, limits: config.limits, authThrottle: config.auth.throttle },
      });
      const url = await app.listen({ host: config.listen.host, port: config.listen.port });
      if (config.metrics) metricsServer = await metrics.serve(config.metrics.host, config.metrics.port);
      ready = true;
      logger.info({ url, clusters: clusterNames }, 'elevate is ready');
      return url;
    },
    async stop() {
      ready = false;
      await jobs.stop();
      await app?.close();
      metricsServer?.close();
      await store.close();
    },
  };
}
