import { formatDuration } from './duration.js';
import { Forbidden } from './errors.js';
import type { Principals } from './identity.js';

/** One target of a request as this (first) engine judges it. */
export interface AccessRequestSpec {
  requester: string;
  requesterGroups: string[];
  cluster: string;
  role: string;
  roleKind: 'ClusterRole' | 'Role';
  namespace: string | null;
  durationMs: number;
  reason: string;
  ticket: string | null;
}

export interface PolicyMatch {
  users?: string[];
  groups?: string[];
  clusters?: string[];
  /** Namespaces (globs with `*`); a policy that lists namespaces never matches a cluster-wide request. */
  namespaces?: string[];
  roles?: string[];
  roleKinds?: ('ClusterRole' | 'Role')[];
}

export interface Policy {
  name: string;
  match: PolicyMatch;
  decision: 'auto' | 'approval' | 'deny';
  approval?: { approvers: Principals; required: number; timeoutMs: number };
  maxDurationMs: number;
  /** Shown to the requester when this policy denies. */
  message?: string;
}

export interface Guardrails {
  /** cluster-admin is never granted unless this is set. */
  allowClusterAdmin: boolean;
  /** Roles no policy can grant. */
  forbiddenRoles: string[];
}

/** The bounds every request's duration must keep, whatever a policy says (config `limits`). */
export interface DurationLimits {
  minDurationMs: number;
  maxDurationMs: number;
}

/**
 * Refuses a duration outside the configured bounds. Forbidden, not Invalid: the duration is well formed,
 * and it is the configuration that does not allow it (like a policy's maxDuration).
 */
export function checkDurationLimits(durationMs: number, limits: DurationLimits): void {
  if (durationMs < limits.minDurationMs) {
    throw new Forbidden(
      `duration ${formatDuration(durationMs)} is below the minimum ${formatDuration(limits.minDurationMs)} (limits.minDuration)`,
      'spec.duration',
    );
  }
  if (durationMs > limits.maxDurationMs) {
    throw new Forbidden(
      `duration ${formatDuration(durationMs)} exceeds the maximum ${formatDuration(limits.maxDurationMs)} (limits.maxDuration)`,
      'spec.duration',
    );
  }
}

export type PolicyOutcome =
  | { decision: 'auto'; policy: Policy }
  | { decision: 'approval'; policy: Policy & { approval: NonNullable<Policy['approval']> } };

function globMatches(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return re.test(value);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function anyOf(patterns: string[] | undefined, value: string): boolean {
  return patterns === undefined || patterns.some((p) => globMatches(p, value));
}

export function policyMatches(policy: Policy, spec: AccessRequestSpec): boolean {
  const m = policy.match;
  const who =
    (m.users === undefined && m.groups === undefined) ||
    anyOf(m.users ?? [], spec.requester) ||
    spec.requesterGroups.some((g) => anyOf(m.groups ?? [], g));
  const where = spec.namespace === null ? m.namespaces === undefined : anyOf(m.namespaces, spec.namespace);
  return (
    who &&
    where &&
    anyOf(m.clusters, spec.cluster) &&
    anyOf(m.roles, spec.role) &&
    (m.roleKinds === undefined || m.roleKinds.includes(spec.roleKind))
  );
}

/**
 * Decides a request: guardrails first (no policy can override them), then the
 * first matching policy in file order. No match is a denial that says so.
 * Denials throw Forbidden, a duration over the policy's maxDuration too (naming spec.duration).
 */
export function decide(policies: Policy[], guardrails: Guardrails, spec: AccessRequestSpec): PolicyOutcome {
  if (spec.roleKind === 'ClusterRole' && spec.role === 'cluster-admin' && !guardrails.allowClusterAdmin) {
    throw new Forbidden(
      'cluster-admin is never granted: the config does not allow it (guardrails.allowClusterAdmin)',
    );
  }
  if (guardrails.forbiddenRoles.includes(spec.role)) {
    throw new Forbidden(`role ${spec.role} is forbidden by guardrails.forbiddenRoles`);
  }
  const policy = policies.find((p) => policyMatches(p, spec));
  const scope = spec.namespace === null ? 'cluster-wide' : `in namespace ${spec.namespace}`;
  if (!policy) {
    throw new Forbidden(
      `no policy allows ${spec.requester} to request ${spec.roleKind} ${spec.role} ${scope} on cluster ${spec.cluster}`,
    );
  }
  if (policy.decision === 'deny') {
    throw new Forbidden(policy.message ?? `denied by policy ${policy.name}`);
  }
  if (spec.durationMs > policy.maxDurationMs) {
    throw new Forbidden(
      `duration ${formatDuration(spec.durationMs)} exceeds the maximum ${formatDuration(policy.maxDurationMs)} of policy ${policy.name}`,
      'spec.duration',
    );
  }
  if (policy.decision === 'approval') {
    if (!policy.approval) throw new Error(`policy ${policy.name} needs approval settings`);
    return { decision: 'approval', policy: { ...policy, approval: policy.approval } };
  }
  return { decision: 'auto', policy };
}
