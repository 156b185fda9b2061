import { createHash } from 'node:crypto';
import { formatDuration } from '../domain/duration.js';
import type { PolicyWarning } from '../domain/policy/lint.js';
import type { Policy, PolicyMatch, PolicySet, Profile } from '../domain/policy/types.js';
import type { ParsedConfig } from './config-schema.js';
import type { PolicyInput, ProfileInput } from './policy-schema.js';

/** A policy without maxDuration may grant up to an hour, or limits.maxDuration when that is shorter. */
export function defaultMaxDurationMs(limitsMaxDurationMs: number): number {
  return Math.min(3_600_000, limitsMaxDurationMs);
}

/**
 * Turns the validated file into the set the engine judges with: policies in evaluation order (priority
 * descending, then file order), every default filled in, and a digest.
 *
 * A policy's defaultDuration above its maxDuration is accepted and capped to the maxDuration here (so the
 * engine's "never above maxDurationMs" holds); it is returned as a warning, which `elevate policy check`
 * prints.
 */
export function buildPolicySet(
  c: ParsedConfig,
  file: string,
  /** Accepted AccessPolicy and AccessProfile objects: after the file's at equal priority, by name. */
  resources: { policies: PolicyInput[]; profiles: ProfileInput[] } = { policies: [], profiles: [] },
): { set: PolicySet; warnings: PolicyWarning[] } {
  const warnings: PolicyWarning[] = [];
  const fallbackMax = defaultMaxDurationMs(c.limits.maxDuration);
  const policies = [
    ...c.policies.map((p, i) => toPolicy(p, `${file} policies[${i}]`, fallbackMax, warnings)),
    ...resources.policies.map((p) => toPolicy(p, `AccessPolicy ${p.name}`, fallbackMax, warnings)),
  ].sort((a, b) => b.priority - a.priority);
  const profiles: Profile[] = [...c.profiles, ...resources.profiles].map((p) => ({
    name: p.name,
    ...(p.description !== undefined ? { description: p.description } : {}),
    targets: p.targets.map((t) => ({
      cluster: t.cluster,
      namespace: t.namespace ?? null,
      role: t.role,
      roleKind: t.roleKind,
    })),
  }));
  const content: Omit<PolicySet, 'digest'> = {
    policies,
    profiles,
    guardrails: {
      allowClusterAdmin: c.guardrails.allowClusterAdmin,
      forbiddenRoles: c.guardrails.forbiddenRoles,
      protectedNamespaces: c.guardrails.protectedNamespaces,
    },
    limits: {
      minDurationMs: c.limits.minDuration,
      maxDurationMs: c.limits.maxDuration,
      ...(c.limits.maxActivePerUser !== undefined ? { maxActivePerUser: c.limits.maxActivePerUser } : {}),
      ...(c.limits.maxActive !== undefined ? { maxActive: c.limits.maxActive } : {}),
      maxScheduleAheadMs: c.limits.maxScheduleAhead,
    },
    clusterLabels: Object.fromEntries(c.clusters.map((cl) => [cl.name, cl.labels])),
    // Only clusters that offer more than bindings: a set without them keeps the digest it always had.
    ...(c.clusters.some((cl) => cl.grants.some((g) => g !== 'binding'))
      ? {
          clusterGrants: Object.fromEntries(
            c.clusters.map((cl) => [
              cl.name,
              { mechanisms: cl.grants, credentialNamespace: cl.credentialNamespace },
            ]),
          ),
        }
      : {}),
  };
  return { set: { ...content, digest: policySetDigest(content) }, warnings };
}

function toPolicy(p: PolicyInput, source: string, fallbackMax: number, warnings: PolicyWarning[]): Policy {
  const maxDurationMs = p.maxDuration ?? fallbackMax;
  let defaultDurationMs = p.defaultDuration;
  if (defaultDurationMs !== undefined && defaultDurationMs > maxDurationMs) {
    warnings.push({
      where: `${source}.defaultDuration`,
      message: `${formatDuration(defaultDurationMs)} is above the policy's maxDuration (${formatDuration(maxDurationMs)}${p.maxDuration === undefined ? ', the default' : ''}): requests without a duration get ${formatDuration(maxDurationMs)}`,
    });
    defaultDurationMs = maxDurationMs;
  }
  const a = p.approval;
  return {
    name: p.name,
    priority: p.priority,
    source,
    match: withoutUndefined(p.match) as PolicyMatch,
    decision: p.decision,
    ...(p.decision === 'approval' && a
      ? {
          approval: {
            approvers: a.approvers,
            required: a.required,
            timeoutMs: a.timeout,
            denyEnds: a.denyEnds,
            requireComment: a.requireComment,
            // Only when set, so a policy without it compiles (and digests) as it did before MFA existed.
            ...(a.requireMfa ? { requireMfa: true } : {}),
          },
        }
      : {}),
    ...(p.message !== undefined ? { message: p.message } : {}),
    maxDurationMs,
    ...(defaultDurationMs !== undefined ? { defaultDurationMs } : {}),
    ...(p.requireTicket === true ? { requireTicket: { pattern: null } } : {}),
    ...(typeof p.requireTicket === 'object' ? { requireTicket: ticketRequirement(p.requireTicket) } : {}),
    ...(p.cooldown !== undefined ? { cooldownMs: p.cooldown } : {}),
    ...(p.maxActivePerUser !== undefined ? { maxActivePerUser: p.maxActivePerUser } : {}),
    ...(p.maxActive !== undefined ? { maxActive: p.maxActive } : {}),
    allowEscalatingRoles: p.allowEscalatingRoles,
    ...(p.requireMfa ? { requireMfa: true } : {}),
    ...(p.grant !== 'binding' ? { grant: p.grant } : {}),
  };
}

/** Only what is set, so a policy written as before tickets had providers digests as it did. */
function ticketRequirement(t: Exclude<NonNullable<PolicyInput['requireTicket']>, boolean>) {
  return {
    pattern: t.pattern ?? null,
    ...(t.provider !== undefined ? { provider: t.provider } : {}),
    ...(t.assignedToRequester ? { assignedToRequester: true } : {}),
  };
}

/**
 * sha256 hex of the set's canonical JSON (keys sorted, absent fields left out): everything that changes a
 * decision — every policy with its name, priority, position in evaluation order, matchers and constraints,
 * the profiles, guardrails, limits and cluster labels. Not where policies were written (`source`), so
 * renaming or moving the file, or reordering policies of different priorities, keeps the digest.
 */
export function policySetDigest(set: Omit<PolicySet, 'digest'>): string {
  const content = { ...set, policies: set.policies.map(({ source: _source, ...rest }) => rest) };
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** zod leaves optional fields out already; this keeps a written `key: null`-free, undefined-free object. */
function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
