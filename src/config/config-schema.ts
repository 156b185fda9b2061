import { z } from 'zod';
import { formatDuration } from '../domain/duration.js';
import { defaultCredentialNamespace, grantMechanisms } from '../domain/grant-mechanism.js';
import { auditSchema } from './audit-sink-schema.js';
import { breakglassSchema, integrationSchema, ticketsSchema } from './integration-schema.js';
import { notificationsSchema } from './notification-schema.js';
import { checkPolicyReferences } from './policy-references.js';
import { durationText, labels, name, policy, principals, profile } from './policy-schema.js';

export { durationText } from './policy-schema.js';

const oidcSchema = z.strictObject({
  /** The issuer URL exactly as it appears in the tokens' iss claim (https). */
  issuer: z
    .url()
    .refine((u) => u.startsWith('https://'), 'the issuer must be an https URL')
    .refine((u) => !u.includes('?') && !u.includes('#'), 'the issuer has no query or fragment'),
  /** The client the tokens are issued to: their aud must contain it. The CLI signs in as this client. */
  clientId: z.string().min(1),
  /** PEM bundle to trust for the issuer's TLS, when it is not a public CA. */
  caFile: z.string().min(1).optional(),
  usernameClaim: z.string().min(1).default('email'),
  usernamePrefix: z.string().default(''),
  groupsClaim: z.string().min(1).default('groups'),
  groupsPrefix: z.string().default(''),
  /** Claims a token must carry with exactly these values (like the API server's --oidc-required-claim). */
  requiredClaims: z.record(z.string().min(1), z.string()).default({}),
  /** Scopes the CLI asks for at sign-in (openid is always asked). */
  scopes: z.array(z.string().min(1)).default(['openid', 'email', 'profile', 'groups', 'offline_access']),
  /** Clock difference tolerated on exp/nbf/iat. */
  clockSkew: durationText.prefault('30s'),
});

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
      /** kube-apiserver's --token-auth-file format: the simplest source, for a lab or a first try. */
      tokenFile: z.string().min(1).optional(),
      /** People sign in with an OpenID Connect provider; Elevate takes its ID tokens as bearer tokens. */
      oidc: oidcSchema.optional(),
      /** ServiceAccount tokens of one cluster, checked by that cluster's TokenReview. */
      kubernetes: z
        .strictObject({
          /** A cluster of clusters[]; its identities are granted in that cluster only. */
          cluster: z.string().min(1),
          /** Audiences a token must be issued for; empty: the API server's own. */
          audiences: z.array(z.string().min(1)).default([]),
          /** How long a TokenReview answer is reused for the same token. */
          cacheFor: durationText.prefault('10s'),
        })
        .optional(),
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
          /** A kubeconfig file, or `in-cluster` for the cluster Elevate's pod runs in (its ServiceAccount). */
          kubeconfig: z.string().min(1),
          context: z.string().optional(),
          /** Matched by policies' clusterSelector. */
          labels: labels.default({}),
          /**
           * How this cluster's API server names people signed in with auth.oidc: set them to its
           * --oidc-username-prefix / --oidc-groups-prefix (or claimMappings prefixes), so a binding names
           * the user exactly as the API server does.
           */
          subjects: z
            .strictObject({ userPrefix: z.string().default(''), groupPrefix: z.string().default('') })
            .prefault({}),
          /**
           * Activity capture: this cluster's API server sends its audit events to
           * /api/v1/activity/kube-audit/NAME with this bearer token (its --audit-webhook-config-file).
           */
          activity: z.strictObject({ tokenFile: z.string().min(1) }).optional(),
          /**
           * grant: webhook: this cluster's API server asks Elevate (its authorization webhook,
           * /api/v1/authorize/NAME) with this bearer token.
           */
          authorization: z.strictObject({ tokenFile: z.string().min(1) }).optional(),
          /** How grants here may give access (policies' grant); bindings only unless listed. */
          grants: z.array(z.enum(grantMechanisms)).min(1).default(['binding']),
          /** Where the per-grant ServiceAccounts of `credential` grants live (made beforehand, with Elevate's Role). */
          credentialNamespace: z
            .string()
            .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'namespace names are DNS labels')
            .max(63)
            .default(defaultCredentialNamespace),
        }),
      )
      .min(1),
    /**
     * The cluster (one of clusters[]) where Elevate's custom resources live: AccessPolicy and AccessProfile
     * (cluster-scoped) join the file's; AccessRequest and AccessApproval are read in `namespace`.
     */
    home: z
      .strictObject({
        cluster: z.string().min(1),
        namespace: z
          .string()
          .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'namespace names are DNS labels')
          .max(63)
          .default('elevate'),
        /**
         * Also manage the clusters that Secrets labelled elevate.dev/cluster=true in `namespace` describe
         * (keys kubeconfig, and optionally name and context): added, changed and removed while running.
         */
        clusterSecrets: z.boolean().default(false),
      })
      .optional(),
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
    tickets: ticketsSchema,
    /** Where the audit trail is streamed (SIEMs, log stores, buckets, syslog). */
    audit: auditSchema,
    /** Who is told what, where: Slack, e-mail and webhook channels, and the rules that feed them. */
    notifications: notificationsSchema,
    /** Identities that may ask for access on someone else's behalf (ticket systems, chat bots). */
    integrations: z.array(integrationSchema).default([]),
    /** Emergency access without ticket or approver; absent: nobody may pull the glass. */
    breakglass: breakglassSchema.optional(),
    secrets: z
      .strictObject({
        /** 32 random bytes (raw, or 64 hex / 44 base64 characters) that encrypt TOTP secrets at rest. */
        keyFile: z.string().min(1),
      })
      .optional(),
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
    if (!c.auth.tokenFile && !c.auth.oidc && !c.auth.kubernetes) {
      ctx.addIssue({
        code: 'custom',
        path: ['auth'],
        message: 'no way to sign in: set auth.tokenFile, auth.oidc or auth.kubernetes',
      });
    }
    if (c.home && !seen.has(c.home.cluster)) {
      ctx.addIssue({
        code: 'custom',
        path: ['home', 'cluster'],
        message: `unknown cluster ${c.home.cluster}; expected one of ${[...seen].join(', ')}`,
      });
    }
    if (c.auth.kubernetes && !seen.has(c.auth.kubernetes.cluster)) {
      ctx.addIssue({
        code: 'custom',
        path: ['auth', 'kubernetes', 'cluster'],
        message: `unknown cluster ${c.auth.kubernetes.cluster}; expected one of ${[...seen].join(', ')}`,
      });
    }
  });

/** The file as validated, before paths are resolved and the policy set is built. */
export type ParsedConfig = z.output<typeof configSchema>;
