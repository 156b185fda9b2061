import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { formatDuration } from '../../domain/duration.js';
import type { BreakglassModeService, ModeState } from '../../services/breakglass-mode-service.js';
import { maxModeMs } from '../../services/breakglass-mode-service.js';
import type { BreakglassService } from '../../services/breakglass-service.js';
import { authProblems, bodyProblems, problems } from '../openapi.js';
import { clusterName, durationField, namespaceName, plainText, roleName } from '../request-fields.js';
import { accessRequestResource, toResource } from '../resources.js';
import { identityOf } from './authenticate.js';
import { otpHeaders, otpOf } from './mfa-routes.js';

const profileName = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a profile name (a DNS label: a-z, 0-9, -)');

function pullBody(clusterNames: () => string[]) {
  const target = z.strictObject({
    cluster: clusterName(clusterNames),
    role: roleName.describe('A ClusterRole listed in breakglass.roles'),
    namespace: namespaceName.optional().describe('Where the RoleBinding goes; left out: cluster-wide'),
  });
  return z.strictObject({
    profile: profileName.optional().describe('A profile listed in breakglass.profiles'),
    targets: z.array(target).min(1).max(50).optional().describe('Or roles one by one (breakglass.roles)'),
    reason: plainText(2000, { required: true, what: 'a reason' }).describe('What the emergency is'),
    duration: durationField({ min: '1s', max: 'breakglass.maxDuration' })
      .optional()
      .describe('How long; left out or longer than breakglass.maxDuration: that maximum'),
  });
}

const modeState = z
  .object({
    on: z.boolean(),
    inForce: z.boolean().describe('On, and before its end: ticket requirements are waived now'),
    since: z.string().nullable(),
    until: z.string().nullable().describe('It turns itself off then'),
    by: z.string().nullable(),
    reason: z.string().nullable(),
  })
  .meta({ id: 'BreakglassMode' });

const modeBody = z.discriminatedUnion('on', [
  z.strictObject({
    on: z.literal(true),
    for: durationField({ min: '1s', max: formatDuration(maxModeMs) }).describe(
      `How long it stays on: at most ${formatDuration(maxModeMs)} (longer is refused with 403; switch it on again to go on)`,
    ),
    reason: plainText(2000, { required: true, what: 'a reason' }).describe('Which ticket system is down'),
  }),
  z.strictObject({
    on: z.literal(false),
    reason: plainText(2000, { required: true, what: 'a reason' }).optional(),
  }),
]);

const iso = (d: Date | null) => d?.toISOString() ?? null;
const modeView = (m: ModeState): z.infer<typeof modeState> => ({
  on: m.on,
  inForce: m.inForce,
  since: iso(m.since),
  until: iso(m.until),
  by: m.by,
  reason: m.reason,
});

/** Emergency access: pulling the glass, and the fleet-wide ticket-system-down mode. */
export function breakglassRoutes(
  deps: { breakglass: BreakglassService; mode: BreakglassModeService },
  clusterNames: () => string[],
): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/breakglass',
      {
        schema: {
          summary: 'Pull the glass: take a break-glass profile or role at once (roster members only)',
          description:
            'No ticket, no approver: granted before this answers, for at most breakglass.maxDuration, audited ' +
            'as BreakGlassActivated (high severity), with a post-incident review opened. The guardrails hold.',
          operationId: 'pullBreakglass',
          tags: ['Breakglass'],
          headers: otpHeaders,
          body: pullBody(clusterNames),
          response: {
            201: accessRequestResource,
            ...problems(...authProblems, 403, 404, 409, ...bodyProblems),
          },
        },
      },
      async (req, reply) => {
        const b = req.body;
        const granted = await deps.breakglass.pull(identityOf(req), {
          profile: b.profile ?? null,
          targets: (b.targets ?? []).map((t) => ({
            cluster: t.cluster,
            role: t.role,
            roleKind: 'ClusterRole' as const,
            namespace: t.namespace ?? null,
          })),
          reason: b.reason,
          durationMs: b.duration ?? null,
          ...otpOf(req.headers),
        });
        return reply.code(201).send(toResource(granted));
      },
    );

    app.get(
      '/breakglass/mode',
      {
        schema: {
          summary: 'Whether ticket-system-down mode is on, since when, until when, and why',
          operationId: 'getBreakglassMode',
          tags: ['Breakglass'],
          response: { 200: modeState, ...problems(...authProblems) },
        },
      },
      async () => modeView(await deps.mode.status()),
    );

    app.put(
      '/breakglass/mode',
      {
        schema: {
          summary: 'Turn ticket-system-down mode on (for a while) or off (admins)',
          description:
            'While on, ticket requirements are waived, every request made is flagged and opens a review, and ' +
            'the mode turns itself off at its end. Audited as BreakGlassModeOn / BreakGlassModeOff.',
          operationId: 'setBreakglassMode',
          tags: ['Breakglass'],
          body: modeBody,
          response: { 200: modeState, ...problems(...authProblems, 403, ...bodyProblems) },
        },
      },
      async (req) => {
        const who = identityOf(req);
        const body = req.body;
        if (!body.on) return modeView(await deps.mode.turnOff(who, body.reason ?? null));
        return modeView(await deps.mode.turnOn(who, body.for, body.reason));
      },
    );
  };
}
