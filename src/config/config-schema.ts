import { z } from 'zod';
import { formatDuration } from '../domain/duration.js';
import { checkPolicyReferences } from './policy-references.js';
import { durationText, labels, name, policy, principals, profile } from './policy-schema.js';

export { durationText } from './policy-schema.js';

/** host:port; port 0 lets the system pick a free one. */
const listenAddress = z
  .string()
  .regex(/^[^:]+:\d{1,5}$/, 'expected host:port')
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65_535, 'the port must be 0 to 65535');

export const configSchema = z
  .strictObject({
    listen: listenAddress.default('127.0.0.1:8080'),
    storage: z
      .string()
      .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'expected sqlite:PATH or postgres://USER@HOST:PORT/DB'),
    tls: z
      .strictObject({
        /** PEM certificate (chain) and key for serving the API over HTTPS. */
        certFile: z.string().min(1),
        keyFile: z.string().min(1),
      })
      .optional(),
    auth: z.strictObject({
      tokenFile: z.string().min(1),
      admins: principals.default({ users: [], groups: [] }),
      /** Failed authentications one client address may make per window before it must wait (429). */
      throttle: z
        .strictObject({
          maxFailures: z.number().int().min(1).default(20),
          window: durationText.prefault('1m'),
        })
        .prefault({}),
    }),
    clusters: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'cluster names are DNS labels'),
          kubeconfig: z.string().min(1),
          context: z.string().optional(),
          /** Matched by policies' clusterSelector. */
          labels: labels.default({}),
        }),
      )
      .min(1),
    policies: z.array(policy).default([]),
    profiles: z.array(profile).default([]),
    guardrails: z
      .strictObject({
        allowClusterAdmin: z.boolean().default(false),
        forbiddenRoles: z.array(name).default([]),
        /** Reachable only through a policy that names them literally in match.namespaces. */
        protectedNamespaces: z.array(name).default(['kube-system', 'kube-public', 'kube-node-lease']),
      })
      .prefault({}),
    reconcile: z
      .strictObject({
        /** How often the drift reconciler compares every cluster with the grants. */
        interval: durationText.prefault('10s'),
      })
      .prefault({}),
    metrics: z
      .strictObject({
        /** host:port for GET /metrics (Prometheus); off when absent. Keep it on loopback or a private network. */
        listen: listenAddress,
      })
      .optional(),
    limits: z
      .strictObject({
        /** No request is granted for less (a 1ms grant is only noise in the audit trail). */
        minDuration: durationText.prefault('1m'),
        /** No request is granted for longer; policies' maxDuration may only narrow it. */
        maxDuration: durationText.prefault('168h'),
        /** Live grants one user may hold at once, under any policy. */
        maxActivePerUser: z.number().int().min(1).optional(),
        /** Live grants at once, everyone together. */
        maxActive: z.number().int().min(1).optional(),
        /** How far ahead a scheduled start may lie. */
        maxScheduleAhead: durationText.prefault('168h'),
      })
      .prefault({}),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((c, ctx) => {
    if (c.limits.minDuration > c.limits.maxDuration) {
      ctx.addIssue({
        code: 'custom',
        path: ['limits', 'minDuration'],
        message: 'must not exceed limits.maxDuration',
      });
    }
    c.policies.forEach((p, i) => {
      if (p.maxDuration === undefined) return;
      if (p.maxDuration > c.limits.maxDuration) {
        ctx.addIssue({
          code: 'custom',
          path: ['policies', i, 'maxDuration'],
          message: `exceeds limits.maxDuration (${formatDuration(c.limits.maxDuration)}); a policy may only narrow it`,
        });
      } else if (p.maxDuration < c.limits.minDuration) {
        ctx.addIssue({
          code: 'custom',
          path: ['policies', i, 'maxDuration'],
          message: `is below limits.minDuration (${formatDuration(c.limits.minDuration)}): the policy could grant nothing`,
        });
      }
    });
    const seen = new Set<string>();
    c.clusters.forEach((cl, i) => {
      if (seen.has(cl.name))
        ctx.addIssue({
          code: 'custom',
          path: ['clusters', i, 'name'],
          message: `duplicate cluster ${cl.name}`,
        });
      seen.add(cl.name);
    });
    checkPolicyReferences(c, ctx);
  });

/** The file as validated, before paths are resolved and the policy set is built. */
export type ParsedConfig = z.output<typeof configSchema>;
