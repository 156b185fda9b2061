import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { buildActivity } from './composition/build-activity.js';
import { buildBreakglass } from './composition/build-breakglass.js';
import { buildClusterSecrets } from './composition/build-cluster-secrets.js';
import { buildKubeRequests } from './composition/build-kube-requests.js';
import { buildLeaderJobs } from './composition/build-leader-jobs.js';
import { buildNotifications } from './composition/build-notifications.js';
import { buildOutbox } from './composition/build-outbox.js';
import { buildPeople } from './composition/build-people.js';
import { buildResourcePolicies } from './composition/build-resource-policies.js';
import { buildTickets } from './composition/build-tickets.js';
import { buildWebhook } from './composition/build-webhook.js';
import { createLogger, requestChangeLogger } from './composition/logging.js';
import { openAdapters } from './composition/open-adapters.js';
import { authSourceKinds } from './composition/open-authenticators.js';
import { openSecretBox, policiesRequireMfa } from './composition/open-secret-box.js';
import { openTicketProviders } from './composition/open-ticket-providers.js';
import { watchConfig } from './composition/watch-config.js';
import { type Config, ConfigError } from './config/load-config.js';
import type { AccessRequest } from './domain/access-request.js';
import { systemClock } from './domain/clock.js';
import { isAmong } from './domain/identity.js';
import type { HttpApp } from './http/create-http-app.js';
import type { LeaderLoop } from './jobs/periodic-loop.js';
import { createApiTokenService } from './services/api-token-service.js';
import { createAuditService } from './services/audit-service.js';
import { createBreakGlassAccessService } from './services/breakglass-access-service.js';
import { createClusterDirectory, fileClusters, withDiscoveredLabels } from './services/cluster-directory.js';
import { createClusterRetirement } from './services/cluster-retirement.js';
import { createCredentialService } from './services/credential-service.js';
import { createExtensionJudge } from './services/extension-judge.js';
import { createExtensionService } from './services/extension-service.js';
import { createGrantReportService } from './services/grant-report-service.js';
import { createGrantService } from './services/grant-service.js';
import { createKeyedLock } from './services/keyed-lock.js';
import { createMfaService, mfaNotConfigured } from './services/mfa-service.js';
import { createPolicyHolder } from './services/policy-holder.js';
import { createReconcileService } from './services/reconcile-service.js';
import { createRequestService } from './services/request-service.js';
import { createTicketCheck } from './services/ticket-check.js';
import { version } from './version.js';

export interface Elevate {
  /** Catches up on what fell due while down, starts the jobs, then listens. Returns the URL. */
  start(): Promise<string>;
  stop(): Promise<void>;
}

export { createLogger };

/** The one place where Elevate's parts are built and wired together. */
export async function composeElevate(
  config: Config,
  logger: Logger = createLogger(config.logLevel),
): Promise<Elevate> {
  const clock = systemClock;
  // Before anything is opened: a bad secrets.keyFile fails the start with nothing to close.
  const secretBox = await openSecretBox(config);
  const ticketProviders = await openTicketProviders(config);
  const adapters = await openAdapters(config, logger);
  const { tls, clusters, metrics, store } = adapters;
  const { people, onBehalf, authenticator } = buildPeople(config, {
    store,
    clock,
    logger,
    authenticator: adapters.authenticator,
  });
  const directory = createClusterDirectory(
    fileClusters(config.clusters.map((c) => ({ ...c, labels: config.policySet.clusterLabels[c.name] }))),
  );
  const clusterNames = () => directory.all().map((c) => c.name);
  const withLock = createKeyedLock();
  const policyHolder = createPolicyHolder(config.policySet);
  // What decisions read: the set in force, with the labels of clusters from Secrets beside the file's.
  const policySource = withDiscoveredLabels(policyHolder, directory);
  for (const w of config.policyWarnings) logger.warn({ where: w.where }, `config: ${w.message}`);
  const webhook = await buildWebhook({ config, store, clusters, clock, logger });
  const grants = createGrantService({
    store,
    clusters: webhook.observing(clusters),
    policySource,
    clock,
    withLock,
  });
  const logRequest = requestChangeLogger(logger);
  /** Set once the request service exists: objects in the home cluster show their requests' changes. */
  let kubeRequests: ReturnType<typeof buildKubeRequests> = null;
  const logChange = (r: AccessRequest) => {
    logRequest(r);
    kubeRequests?.changed(r);
    void webhook.authorizer.track(r);
  };
  // Leader-only loops (ticket re-checks, overdue reviews, the outbox relay) register their factories here
  // as their services are built below; each leadership term builds them afresh.
  const loopFactories: (() => LeaderLoop)[] = [];
  const jobs = buildLeaderJobs({
    config,
    adapters,
    directory,
    policySource,
    grants,
    clock,
    logger,
    logChange,
    newLoops: () => loopFactories.map((newLoop) => newLoop()),
  });
  metrics.countTimersWith(() => jobs.timerCount());
  // Every server reloads the policy set on its own, leader or not (each audits its own reload).
  const resourcePolicies = buildResourcePolicies(config, { holder: policyHolder, store, clock, logger });
  const configWatcher = watchConfig(config, {
    holder: policyHolder,
    store,
    clock,
    logger,
    resources: resourcePolicies?.policies ?? null,
  });
  /** Every saved change is logged and timed from then on. */
  const onChange = (r: AccessRequest) => {
    logChange(r);
    jobs.track(r);
  };
  if (!secretBox && policiesRequireMfa(config)) {
    logger.warn('a policy requires MFA but secrets.keyFile is not set: requests it decides are refused');
  }
  const mfa = secretBox
    ? createMfaService({
        store,
        box: secretBox,
        clock,
        withLock,
        isAdmin: (who) => isAmong(who, config.auth.admins),
      })
    : mfaNotConfigured();
  const ticketCheck = createTicketCheck({
    providers: ticketProviders,
    onLookup: (provider, outcome, err) => {
      metrics.ticketLookup(provider, outcome);
      if (err) logger.warn({ provider, err: err.message }, 'ticket provider could not answer');
    },
  });
  const requests = createRequestService({
    onBehalf,
    mfa,
    tickets: ticketCheck,
    store,
    clusters,
    grants,
    directory,
    policySource,
    admins: config.auth.admins,
    ...(config.breakglass ? { reviewDeadlineMs: config.breakglass.reviewDeadlineMs } : {}),
    clock,
    withLock,
    onChange,
    onSettleError: (r, err) =>
      logger.warn({ request: r.id, err: err.message }, 'could not settle now; will retry'),
  });
  kubeRequests = buildKubeRequests(config, { requests, store, people, clock, logger });
  const clusterSecrets = buildClusterSecrets({
    config,
    gateway: clusters,
    directory,
    retirement: createClusterRetirement({
      store,
      grants,
      withLock,
      clock,
      onChange,
      onError: (id, err) => logger.warn({ request: id, err: err.message }, 'revocation failed; will retry'),
    }),
    isLeader: jobs.isLeader,
    logger,
  });
  if (clusterSecrets) loopFactories.push(clusterSecrets.newLoop);
  const tickets = await buildTickets({
    config,
    store,
    check: ticketCheck,
    grants,
    withLock,
    clock,
    logger,
    onChange,
  });
  if (tickets.hasProviders) loopFactories.push(tickets.newLoop);
  const emergency = buildBreakglass({
    config,
    store,
    clusters,
    directory,
    policySource,
    mfa,
    clock,
    logger,
    isAdmin: requests.isAdmin,
    settle: requests.settleApproved,
  });
  loopFactories.push(emergency.newLoop);
  metrics.countReviewsWith(emergency.reviews.counts);
  const notifications = await buildNotifications({ config, store, requests, people, metrics, clock, logger });
  if (notifications.newExpiryLoop) loopFactories.push(notifications.newExpiryLoop);
  const outbox = await buildOutbox({
    config,
    store,
    metrics,
    clock,
    logger,
    notifications: notifications.consumers,
  });
  const activity = await buildActivity({ config, store, metrics, clock });
  if (outbox.hasConsumers) loopFactories.push(outbox.newLoop);
  const extensions = createExtensionService({
    mfa,
    store,
    clusters,
    judge: createExtensionJudge({ clusters, store, policySource, now: () => clock.now() }),
    admins: config.auth.admins,
    clock,
    withLock,
    onChange,
  });
  let ready = false;
  let metricsServer: Server | undefined;
  let app: HttpApp | undefined;

  /** A listener that cannot bind is the config's fault: say which field. */
  async function bind<T>(field: string, where: { host: string; port: number }, open: () => Promise<T>) {
    try {
      return await open();
    } catch (e) {
      throw new ConfigError(
        `${config.file}: ${field}: cannot listen on ${where.host}:${where.port}: ${(e as Error).message}`,
      );
    }
  }

  async function serve(): Promise<string> {
    // Loaded after the catch-up has started, so a restart after a crash begins removing overdue grants
    // before the HTTP stack has loaded.
    const { createHttpApp } = await import('./http/create-http-app.js');
    app = await createHttpApp({
      logger,
      authenticator,
      requests,
      extensions,
      credentials: createCredentialService({ load: requests.get, store, clusters, clock }),
      audit: createAuditService({
        store,
        isAdmin: requests.isAdmin,
        sinks: outbox.sinks,
        now: () => clock.now(),
      }),
      clusters: directory,
      reconcile: createReconcileService({
        reconcileNow: jobs.reconcileNow,
        isAdmin: requests.isAdmin,
      }),
      mfa,
      ticketCallbacks: tickets.callbacks,
      slackInteractions: notifications.slackInteractions,
      activity,
      webhook,
      reports: createGrantReportService({ load: requests.get, store, clock }),
      emergency,
      breakGlassAccess: createBreakGlassAccessService({ requests, onBehalf, store, policySource, clock }),
      apiTokens: createApiTokenService({ store, isAdmin: requests.isAdmin, clock }),
      isLeader: jobs.isLeader,
      tls,
      isReady: () => ready,
      version,
      authConfig: {
        oidc: config.auth.oidc
          ? {
              issuer: config.auth.oidc.issuer,
              clientId: config.auth.oidc.clientId,
              scopes: config.auth.oidc.scopes,
            }
          : null,
        sources: authSourceKinds(config),
      },
      contract: { limits: config.policySet.limits, authThrottle: config.auth.throttle },
    });
    const url = await bind('listen', config.listen, () => (app as HttpApp).listen(config.listen));
    const metricsAt = config.metrics;
    if (metricsAt) {
      metricsServer = await bind('metrics.listen', metricsAt, () =>
        metrics.serve(metricsAt.host, metricsAt.port),
      );
    }
    return url;
  }

  async function stop(): Promise<void> {
    ready = false;
    await configWatcher.stop();
    webhook.stop();
    clusterSecrets?.stop();
    resourcePolicies?.stop();
    await kubeRequests?.stop();
    await jobs.stop();
    await outbox.close();
    await app?.close();
    await notifications.close();
    metricsServer?.close();
    authenticator.stop?.();
    await store.close();
  }

  return {
    async start() {
      // The API listens while the leader catches up on whatever fell due while Elevate was down, and
      // /readyz answers 503 until that is done (bounded, so an unreachable cluster cannot hold it up).
      // A follower leaves the timers to the leader and is ready at once.
      resourcePolicies?.start();
      kubeRequests?.start();
      // The catch-up must know the clusters Secrets add, or their grants due meanwhile would wait.
      await clusterSecrets?.listed;
      await webhook.start();
      const [, url] = await Promise.all([jobs.start(), serve(), configWatcher.start()]).catch(async (e) => {
        await stop();
        throw e;
      });
      ready = true;
      logger.info({ url, clusters: clusterNames() }, 'elevate is ready');
      return url;
    },
    stop,
  };
}
