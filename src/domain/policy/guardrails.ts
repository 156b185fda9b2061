/**
 * Guardrails no policy overrides: cluster-admin, forbidden roles, and roles whose rules would let the
 * holder escalate beyond what was granted (grant themselves more, act as someone else, run code as a
 * pod's service account, or read every secret). Role rules are judged with RBAC's own matching
 * (k8s.io/kubernetes pkg/apis/rbac/v1/evaluation_helpers.go), so a rule trips a guardrail exactly when the
 * API server would honour it for the dangerous request. The real `edit` and `admin` ClusterRoles do trip it
 * (impersonate serviceaccounts, create pods/exec): granting them needs allowEscalatingRoles. `view` does not.
 */
import { describeTarget, type Target } from '../target.js';
import { globMatches } from './glob.js';
import type { Guardrails, Policy, Refusal, RoleRule } from './types.js';

// Mirrors of VerbMatches, APIGroupMatches and ResourceMatches. Note that RBAC has no `pods/*`: only `*`,
// the exact resource, and `*/subresource` match a subresource, so `pods/*` grants nothing and is no risk.
const verbMatches = (r: RoleRule, verb: string) => r.verbs.some((v) => v === '*' || v === verb);
const groupMatches = (r: RoleRule, group: string) =>
  (r.apiGroups ?? []).some((g) => g === '*' || g === group);
function resourceMatches(r: RoleRule, combined: string, sub: string): boolean {
  return (r.resources ?? []).some((x) => x === '*' || x === combined || (sub !== '' && x === `*/${sub}`));
}
const grants = (r: RoleRule, group: string, resource: string, verb: string) => {
  const slash = resource.indexOf('/');
  const sub = slash === -1 ? '' : resource.slice(slash + 1);
  return verbMatches(r, verb) && groupMatches(r, group) && resourceMatches(r, resource, sub);
};

const EXEC_LIKE = ['pods/exec', 'pods/attach', 'serviceaccounts/token'];
const READ = ['get', 'list', 'watch'];

const quoted = (items: readonly string[]) => `[${items.map((s) => JSON.stringify(s)).join(', ')}]`;

/** The rule the way it is written in the role: `{apiGroups: [""], resources: ["pods/exec"], verbs: ["create"]}`. */
export function describeRule(r: RoleRule): string {
  const parts: string[] = [];
  if (r.apiGroups !== undefined) parts.push(`apiGroups: ${quoted(r.apiGroups)}`);
  if (r.resources !== undefined) parts.push(`resources: ${quoted(r.resources)}`);
  if (r.resourceNames !== undefined && r.resourceNames.length > 0) {
    parts.push(`resourceNames: ${quoted(r.resourceNames)}`);
  }
  if (r.nonResourceURLs !== undefined) parts.push(`nonResourceURLs: ${quoted(r.nonResourceURLs)}`);
  parts.push(`verbs: ${quoted(r.verbs)}`);
  return `{${parts.join(', ')}}`;
}

/**
 * What the rule lets its holder do that escalates, or null. resourceNames do not excuse a rule: exec into
 * one named pod or impersonating one named account is still running as someone else.
 */
export function escalation(r: RoleRule, clusterWide: boolean): string | null {
  // nonResourceURLs rules (/metrics, /healthz) reach no API object, so they cannot escalate.
  if (r.resources === undefined || r.resources.length === 0) return null;
  const allVerbs = r.verbs.includes('*');
  if (allVerbs && r.resources.includes('*')) return 'lets the holder use every verb on every resource';
  if (allVerbs) {
    return `lets the holder use every verb on ${r.resources.join(', ')}, escalate, bind and impersonate included`;
  }
  const risky = r.verbs.find((v) => v === 'escalate' || v === 'bind' || v === 'impersonate');
  if (risky !== undefined) return `lets the holder ${risky} ${r.resources.join(', ')}`;
  for (const res of EXEC_LIKE) if (grants(r, '', res, 'create')) return `lets the holder create ${res}`;
  if (clusterWide) {
    const verb = READ.find((v) => grants(r, '', 'secrets', v));
    if (verb !== undefined) return `lets the holder ${verb} secrets in every namespace`;
  }
  return null;
}

/**
 * Refuses a target the guardrails forbid. `policy` null: checked before any policy matched (no role may be
 * let through by allowEscalatingRoles then). `rules` undefined: the role's rules are unknown (offline),
 * so only the name checks run; null: the role does not exist.
 */
export function checkGuardrails(
  guardrails: Guardrails,
  policy: Pick<Policy, 'name' | 'allowEscalatingRoles'> | null,
  target: Target,
  rules: RoleRule[] | null | undefined,
): Refusal | null {
  if (target.roleKind === 'ClusterRole' && target.role === 'cluster-admin' && !guardrails.allowClusterAdmin) {
    return {
      kind: 'guardrail',
      message: 'cluster-admin is never granted: the config does not allow it (guardrails.allowClusterAdmin)',
    };
  }
  if (guardrails.forbiddenRoles.some((f) => globMatches(f, target.role))) {
    return { kind: 'guardrail', message: `role ${target.role} is forbidden by guardrails.forbiddenRoles` };
  }
  if (rules === undefined) return null;
  if (rules === null) {
    // A ClusterRole lives outside namespaces, even when it is bound in one.
    const where =
      target.roleKind === 'Role' && target.namespace !== null ? ` in namespace ${target.namespace}` : '';
    return {
      kind: 'constraint',
      field: 'spec.role',
      message: `${target.roleKind} ${target.role} does not exist${where} on cluster ${target.cluster}`,
    };
  }
  if (policy?.allowEscalatingRoles.includes(target.role)) return null;
  for (const rule of rules) {
    const what = escalation(rule, target.namespace === null);
    if (what === null) continue;
    const allow =
      policy === null
        ? 'a policy may allow it with allowEscalatingRoles'
        : `policy ${policy.name} does not list ${target.role} in allowEscalatingRoles`;
    return {
      kind: 'guardrail',
      rule,
      message: `${describeTarget(target)} escalates: rule ${describeRule(rule)} ${what} (${allow})`,
    };
  }
  return null;
}
