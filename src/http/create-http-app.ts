import Fastify, { type FastifyBaseLogger } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { DurationLimits } from '../domain/policy/types.js';
import type { ActivityCapture } from '../services/activity-capture.js';
import type { ApiTokenService } from '../services/api-token-service.js';
import type { AuditService } from '../services/audit-service.js';
import type { BreakGlassAccessService } from '../services/breakglass-access-service.js';
import type { BreakglassModeService } from '../services/breakglass-mode-service.js';
import type { BreakglassService } from '../services/breakglass-service.js';
import type { CredentialService } from '../services/credential-service.js';
import type { ExtensionService } from '../services/extension-service.js';
import type { GrantReportService } from '../services/grant-report-service.js';
import type { MfaService } from '../services/mfa-service.js';
import type { Authenticator, ClusterDirectory } from '../services/ports.js';
import type { ReconcileService } from '../services/reconcile-service.js';
import type { RequestService } from '../services/request-service.js';
import type { ReviewService } from '../services/review-service.js';
import type { TicketCallbacks } from '../services/ticket-callback.js';
import type { WebhookAuthorizer } from '../services/webhook-authorizer.js';
import { type AuthThrottleOptions, throttleFailedAuth } from './auth-throttle.js';
import type { ClusterTokenCheck } from './cluster-token-check.js';
import { onClientError, onFrameworkError } from './framework-errors.js';
import { acceptOnlyUtf8Json } from './json-body.js';
import { registerOpenApi } from './openapi.js';
import { registerProblemHandler } from './problem-handler.js';
import { accessRequestRoutes } from './routes/access-request-routes.js';
import { activityIngestRoutes } from './routes/activity-routes.js';
import { apiTokenRoutes } from './routes/api-token-routes.js';
import { auditRoutes } from './routes/audit-routes.js';
import { type AuthConfigInfo, authConfigRoutes } from './routes/auth-config-routes.js';
import { authenticateWith } from './routes/authenticate.js';
import { authorizeRoutes } from './routes/authorize-routes.js';
import { breakGlassAccessRoutes } from './routes/breakglass-access-routes.js';
import { breakglassRoutes } from './routes/breakglass-routes.js';
import { clusterRoutes } from './routes/cluster-routes.js';
import { credentialRoutes } from './routes/credential-routes.js';
import { extensionRoutes } from './routes/extension-routes.js';
import { grantActivityRoutes } from './routes/grant-activity-routes.js';
import { healthRoutes } from './routes/health-routes.js';
import { identityRoutes } from './routes/identity-routes.js';
import { mfaRoutes } from './routes/mfa-routes.js';
import { reconcileRoutes } from './routes/reconcile-routes.js';
import { reviewRoutes } from './routes/review-routes.js';
import { type SlackInteractionReceiver, slackInteractionRoutes } from './routes/slack-interaction-routes.js';
import { ticketEventRoutes } from './routes/ticket-event-routes.js';

export interface HttpAppDeps {
  logger: FastifyBaseLogger;
  authenticator: Authenticator;
  requests: RequestService;
  extensions: ExtensionService;
  credentials: CredentialService;
  audit: AuditService;
  reconcile: ReconcileService;
  /** The clusters a request may name now. */
  clusters: Pick<ClusterDirectory, 'all'>;
  apiTokens: ApiTokenService;
  /** Emergency access: break-glass, ticket-system-down mode, post-incident reviews. */
  emergency: { breakglass: BreakglassService; mode: BreakglassModeService; reviews: ReviewService };
  /** Rafay-compatible BreakGlassAccess for ticket systems (/apis/system.k8smgmt.io/v3). */
  breakGlassAccess: BreakGlassAccessService;
  /** Signed callbacks from ticket systems (POST /api/v1/tickets/events). */
  ticketCallbacks: TicketCallbacks;
  /** Approve/Deny clicked in Slack (POST /api/v1/notifications/slack/interactions, signed by Slack). */
  slackInteractions: SlackInteractionReceiver;
  /** What was done under grants, and grant reports. */
  reports: GrantReportService;
  /** Activity capture: the ingest of API servers' audit events, and the check of their tokens. */
  activity: { capture: ActivityCapture; checkToken: ClusterTokenCheck };
  webhook: { authorizer: WebhookAuthorizer; checkToken: ClusterTokenCheck };
  /** TOTP enrolment (answers 409 throughout when secrets.keyFile is not set). */
  mfa: Pick<MfaService, 'enroll' | 'confirm' | 'status' | 'reset'>;
  /** Whether this server holds the lease (runs the timers and drift repair); shown by /readyz. */
  isLeader: () => boolean;
  /** PEM certificate and key: serve HTTPS instead of HTTP. */
  tls: { cert: Buffer; key: Buffer } | null;
  /** Ready once start-up catch-up (expiries missed while down) has run. */
  isReady: () => boolean;
  version: string;
  /** How clients sign in (GET /api/v1/auth/config, public). */
  authConfig: AuthConfigInfo;
  /** What the configuration makes part of the API contract: duration bounds, throttling. */
  contract: { limits: DurationLimits; authThrottle: AuthThrottleOptions };
}

export type HttpApp = Awaited<ReturnType<typeof createHttpApp>>;

export async function createHttpApp(deps: HttpAppDeps) {
  // The clusters a request may name, read at each request: cluster Secrets change them while running.
  const clusterNames = () => deps.clusters.all().map((c) => c.name);
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: 64 * 1024,
    // Longer than any request id; a longer path segment is refused before routing.
    routerOptions: { maxParamLength: 100 },
    frameworkErrors: onFrameworkError,
    clientErrorHandler: onClientError,
    ...(deps.tls ? { https: deps.tls } : {}),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerProblemHandler(app);
  acceptOnlyUtf8Json(app);
  const openapi = await registerOpenApi(app, {
    version: deps.version,
    clusterNames,
  });

  await app.register(
    healthRoutes({
      isReady: deps.isReady,
      isLeader: deps.isLeader,
      degraded: () => deps.authenticator.degraded?.() ?? null,
      openapi,
    }),
  );
  // Outside the authenticated scope: a client reads it before it has a token.
  await app.register(authConfigRoutes(deps.authConfig), { prefix: '/api/v1' });
  // Sent by the clusters' API servers (their audit webhook), each with its own token.
  await app.register(
    async (clusters) => {
      throttleFailedAuth(clusters, deps.contract.authThrottle);
      await clusters.register(activityIngestRoutes(deps.activity.capture, deps.activity.checkToken));
      await clusters.register(authorizeRoutes(deps.webhook.authorizer, deps.webhook.checkToken));
    },
    { prefix: '/api/v1' },
  );
  // Signed by the ticket system instead of a bearer token; bad signatures are throttled like bad tokens.
  await app.register(
    async (signed) => {
      throttleFailedAuth(signed, deps.contract.authThrottle);
      await signed.register(ticketEventRoutes(deps.ticketCallbacks));
      await signed.register(slackInteractionRoutes(deps.slackInteractions));
    },
    { prefix: '/api/v1' },
  );
  await app.register(
    async (api) => {
      throttleFailedAuth(api, deps.contract.authThrottle);
      // On request, before the body is read: an unauthenticated caller learns nothing about its input.
      api.addHook('onRequest', authenticateWith(deps.authenticator));
      await api.register(identityRoutes(deps.requests));
      await api.register(
        accessRequestRoutes(deps.requests, {
          clusterNames,
          limits: deps.contract.limits,
        }),
      );
      await api.register(extensionRoutes(deps.extensions));
      await api.register(credentialRoutes(deps.credentials));
      await api.register(auditRoutes(deps.audit));
      await api.register(grantActivityRoutes(deps.reports));
      await api.register(reconcileRoutes(deps.reconcile));
      await api.register(clusterRoutes(deps.clusters));
      await api.register(apiTokenRoutes(deps.apiTokens));
      await api.register(mfaRoutes(deps.mfa));
      await api.register(breakglassRoutes(deps.emergency, clusterNames));
      await api.register(reviewRoutes(deps.emergency.reviews));
    },
    { prefix: '/api/v1' },
  );
  // Rafay's API path, for ticket systems already wired to it: authenticated like /api/v1.
  await app.register(
    async (rafay) => {
      throttleFailedAuth(rafay, deps.contract.authThrottle);
      rafay.addHook('onRequest', authenticateWith(deps.authenticator));
      await rafay.register(breakGlassAccessRoutes(deps.breakGlassAccess));
    },
    { prefix: '/apis/system.k8smgmt.io/v3' },
  );
  return app;
}
