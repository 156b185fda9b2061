import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditService } from '../services/audit-service.js';
import type { Authenticator } from '../services/ports.js';
import type { ReconcileService } from '../services/reconcile-service.js';
import type { RequestService } from '../services/request-service.js';
import { registerProblemHandler } from './problem-handler.js';
import { accessRequestRoutes } from './routes/access-request-routes.js';
import { auditRoutes } from './routes/audit-routes.js';
import { authenticateWith, identityOf } from './routes/authenticate.js';
import { reconcileRoutes } from './routes/reconcile-routes.js';

export interface HttpAppDeps {
  logger: FastifyBaseLogger;
  authenticator: Authenticator;
  requests: RequestService;
  audit: AuditService;
  reconcile: ReconcileService;
  /** Whether this server holds the lease (runs the timers and drift repair); shown by /readyz. */
  isLeader: () => boolean;
  /** PEM certificate and key: serve HTTPS instead of HTTP. */
  tls: { cert: Buffer; key: Buffer } | null;
  /** Ready once start-up catch-up (expiries missed while down) has run. */
  isReady: () => boolean;
  version: string;
}

export type HttpApp = Awaited<ReturnType<typeof createHttpApp>>;

export async function createHttpApp(deps: HttpAppDeps) {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: 64 * 1024,
    ...(deps.tls ? { https: deps.tls } : {}),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerProblemHandler(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Elevate API',
        version: deps.version,
        description: 'Just-in-time privileged access for Kubernetes.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) =>
    deps.isReady()
      ? { status: 'ready', leader: deps.isLeader() }
      : reply.code(503).send({ status: 'starting', leader: deps.isLeader() }),
  );
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(
    async (api) => {
      api.addHook('preHandler', authenticateWith(deps.authenticator));
      api.get(
        '/whoami',
        {
          schema: {
            summary: 'Who the bearer token belongs to',
            tags: ['Identity'],
            response: {
              200: z.object({ user: z.string(), groups: z.array(z.string()), admin: z.boolean() }),
            },
          },
        },
        async (req) => {
          const who = identityOf(req);
          return { user: who.user, groups: who.groups, admin: deps.requests.isAdmin(who) };
        },
      );
      await api.register(accessRequestRoutes(deps.requests));
      await api.register(auditRoutes(deps.audit));
      await api.register(reconcileRoutes(deps.reconcile));
    },
    { prefix: '/api/v1' },
  );
  return app;
}
