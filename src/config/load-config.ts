import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import type { PolicyWarning } from '../domain/policy/lint.js';
import type { PolicySet } from '../domain/policy/types.js';
import type { SubjectNaming } from '../domain/subject.js';
import { type AuditSinkConfig, resolveAuditSinks } from './audit-sink-schema.js';
import { configSchema, type ParsedConfig } from './config-schema.js';
import {
  type BreakglassConfig,
  type IntegrationConfig,
  resolveIntegrations,
  type TicketsConfig,
} from './integration-config.js';
import { type NotificationsConfig, resolveNotifications } from './notification-schema.js';
import { buildPolicySet } from './policy-set.js';

export type StorageConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export interface ClusterConfig {
  name: string;
  /** An absolute path, or `in-cluster`. */
  kubeconfigPath: string;
  context?: string;
  /** How the cluster's API server names OIDC users and groups (their prefixes). */
  subjects: SubjectNaming;
  /** The token its API server sends with its audit events (activity capture); null when not captured. */
  activityTokenFile: string | null;
  /** The token its API server sends to Elevate's authorization webhook; null when it does not ask. */
  authorizationTokenFile: string | null;
}

/** `kubeconfig: in-cluster`: the cluster Elevate runs in, reached with its pod's ServiceAccount. */
export const inCluster = 'in-cluster';

/** What it takes to reach a cluster's API server. */
export type ClusterConnection = Pick<ClusterConfig, 'name' | 'kubeconfigPath' | 'context'>;

export interface OidcConfig {
  issuer: string;
  clientId: string;
  /** Absolute path, or null to trust the system's CAs. */
  caFile: string | null;
  usernameClaim: string;
  usernamePrefix: string;
  groupsClaim: string;
  groupsPrefix: string;
  requiredClaims: Record<string, string>;
  scopes: string[];
  clockSkewMs: number;
}

/** The validated config with paths made absolute (relative paths are relative to the config file). */
export interface Config {
  file: string;
  listen: { host: string; port: number };
  /** Serve HTTPS with these PEM files; null for plain HTTP. */
  tls: { certFile: string; keyFile: string } | null;
  storage: StorageConfig;
  auth: {
    /** Absolute path; null when the token file is not used. */
    tokenFile: string | null;
    oidc: OidcConfig | null;
    /** ServiceAccounts of this cluster sign in with their tokens (TokenReview); null when off. */
    kubernetes: { cluster: string; audiences: string[]; cacheForMs: number } | null;
    admins: { users: string[]; groups: string[] };
    /** After maxFailures failed authentications from one address within windowMs, it waits (429). */
    throttle: { maxFailures: number; windowMs: number };
  };
  clusters: ClusterConfig[];
  reconcileIntervalMs: number;
  /** Where to serve Prometheus metrics; null when off. */
  metrics: { host: string; port: number } | null;
  logLevel: string;
  /** The key file that encrypts secrets at rest (TOTP); null when none is configured. */
  secretsKeyFile: string | null;
  /** Ticket systems that validate tickets, and how often live grants' tickets are checked again. */
  tickets: TicketsConfig;
  /** Identities that may ask on someone else's behalf. */
  integrations: IntegrationConfig[];
  /** Emergency access; null: nobody may pull the glass (ticket-system-down mode is still the admins'). */
  breakglass: BreakglassConfig | null;
  /** Where the audit trail is streamed, each sink with its own cursor; file paths absolute. */
  auditSinks: AuditSinkConfig[];
  /** Where Elevate's custom resources live; null: nowhere (policies come from the file alone). */
  home: { cluster: string; namespace: string; clusterSecrets: boolean } | null;
  /** The file as validated: what policies from custom resources are judged against (references, limits). */
  parsed: ParsedConfig;
  /** Notification channels and rules; file paths absolute. */
  notifications: NotificationsConfig;
  /**
   * The policy language as the engine judges it (policies in evaluation order, profiles, guardrails,
   * limits, cluster labels, digest). A config reload replaces it whole.
   */
  policySet: PolicySet;
  /** What the file says that is accepted but probably not meant (`elevate policy check` prints them). */
  policyWarnings: PolicyWarning[];
}

export class ConfigError extends Error {}

/** Formats a zod issue path the way people write it: policies[0].approval.required */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out ? `${out}.${String(key)}` : String(key);
  }, '');
}

export function describeIssues(error: z.ZodError, prefix: string): string {
  return error.issues.map((i) => `${prefix}${formatPath(i.path) || '(root)'}: ${i.message}`).join('\n');
}

export function loadConfig(file: string): Config {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new ConfigError(`${abs}: cannot read config: ${(e as Error).message}`);
  }
  return parseConfig(text, abs);
}

export function parseConfig(text: string, file: string): Config {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${file}: invalid YAML: ${e.message}`).join('\n'));
  }
  const parsed = configSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error, `${file}: `));
  const c = parsed.data;
  const base = dirname(file);
  const rel = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const [host, port] = splitHostPort(c.listen);
  const metrics = c.metrics ? splitHostPort(c.metrics.listen) : null;
  const { set: policySet, warnings: policyWarnings } = buildPolicySet(c, file);
  return {
    file,
    listen: { host, port },
    tls: c.tls ? { certFile: rel(c.tls.certFile), keyFile: rel(c.tls.keyFile) } : null,
    storage: c.storage.startsWith('sqlite:')
      ? { kind: 'sqlite', path: rel(c.storage.slice('sqlite:'.length)) }
      : { kind: 'postgres', url: c.storage },
    auth: {
      tokenFile: c.auth.tokenFile ? rel(c.auth.tokenFile) : null,
      oidc: c.auth.oidc ? oidcConfig(c.auth.oidc, rel) : null,
      kubernetes: c.auth.kubernetes
        ? {
            cluster: c.auth.kubernetes.cluster,
            audiences: c.auth.kubernetes.audiences,
            cacheForMs: c.auth.kubernetes.cacheFor,
          }
        : null,
      admins: c.auth.admins,
      throttle: { maxFailures: c.auth.throttle.maxFailures, windowMs: c.auth.throttle.window },
    },
    clusters: c.clusters.map((cl) => ({
      name: cl.name,
      kubeconfigPath: cl.kubeconfig === inCluster ? inCluster : rel(cl.kubeconfig),
      ...(cl.context ? { context: cl.context } : {}),
      subjects: cl.subjects,
      activityTokenFile: cl.activity ? rel(cl.activity.tokenFile) : null,
      authorizationTokenFile: cl.authorization ? rel(cl.authorization.tokenFile) : null,
    })),
    reconcileIntervalMs: c.reconcile.interval,
    metrics: metrics ? { host: metrics[0], port: metrics[1] } : null,
    logLevel: c.logLevel,
    secretsKeyFile: c.secrets ? rel(c.secrets.keyFile) : null,
    ...resolveIntegrations(c, rel),
    auditSinks: resolveAuditSinks(c.audit, rel),
    notifications: resolveNotifications(c.notifications, rel),
    home: c.home ?? null,
    parsed: c,
    policySet,
    policyWarnings,
  };
}

function oidcConfig(
  { clockSkew, caFile, ...oidc }: NonNullable<ParsedConfig['auth']['oidc']>,
  rel: (p: string) => string,
): OidcConfig {
  return { ...oidc, caFile: caFile ? rel(caFile) : null, clockSkewMs: clockSkew };
}

function splitHostPort(listen: string): [string, number] {
  const i = listen.lastIndexOf(':');
  return [listen.slice(0, i), Number(listen.slice(i + 1))];
}
