/**
 * Kubernetes RBAC rule evaluation, ported exactly from k8s.io/kubernetes (v1.36):
 * pkg/apis/rbac/v1/evaluation_helpers.go (VerbMatches, APIGroupMatches, ResourceMatches,
 * ResourceNameMatches, NonResourceURLMatches), plugin/pkg/auth/authorizer/rbac/rbac.go (RuleAllows) and
 * pkg/registry/rbac/validation/rule.go (VisitRulesFor: which bindings count for a request). It answers
 * SubjectAccessReviews from in-memory grants, so it must agree with the API server to the letter
 * (test/integration/rbac-evaluation.test.ts proves it against a real one) and stay cheap: plain loops and
 * string comparisons, no regular expressions, no closures or arrays per call.
 */
import type { RoleRule } from '../policy/types.js';

/**
 * What is asked, as in a SubjectAccessReview (authorization.k8s.io/v1). An empty string means "not
 * given": namespace '' is a cluster-scoped (or all-namespaces) request, name '' a request without a name
 * (list, create, watch of a collection), subresource '' the resource itself.
 */
export type RequestAttributes =
  | {
      kind: 'resource';
      verb: string;
      group: string;
      resource: string;
      subresource: string;
      name: string;
      namespace: string;
    }
  | { kind: 'nonResource'; verb: string; path: string };

// Absent lists match nothing, as a nil slice does in Go; one shared empty array avoids allocating.
const NONE: readonly string[] = [];

// VerbMatches and APIGroupMatches: '*' or the exact, case-sensitive value.
function containsOrAll(values: readonly string[], wanted: string): boolean {
  for (const v of values) if (v === '*' || v === wanted) return true;
  return false;
}

// ResourceMatches: '*', the exact "resource" or "resource/subresource", or "*/subresource". There is no
// "resource/*" wildcard: a rule "pods/*" only matches the literal subresource "*" of pods.
function resourceMatches(resources: readonly string[], combined: string, subresource: string): boolean {
  for (const r of resources) {
    if (r === '*' || r === combined) return true;
    // Go checks length, "*/" prefix and subresource suffix, which together mean r === "*/" + subresource;
    // compared piecewise so no string is built.
    if (
      subresource !== '' &&
      r.length === subresource.length + 2 &&
      r.startsWith('*/') &&
      r.endsWith(subresource)
    ) {
      return true;
    }
  }
  return false;
}

// ResourceNameMatches: no resourceNames means every name; with resourceNames, a request without a name
// (list, watch, create of a collection) is denied unless "" itself is listed.
function resourceNameMatches(names: readonly string[] | undefined, name: string): boolean {
  if (names === undefined || names.length === 0) return true;
  for (const n of names) if (n === name) return true;
  return false;
}

// NonResourceURLMatches: '*', the exact path, or a prefix when the rule ends in '*'. Go's TrimRight strips
// every trailing '*', so "/logs**" is the prefix "/logs" and "**" matches everything.
function nonResourceURLMatches(urls: readonly string[], path: string): boolean {
  for (const u of urls) {
    if (u === '*' || u === path) return true;
    if (u.endsWith('*')) {
      let end = u.length - 1;
      while (end > 0 && u.charCodeAt(end - 1) === 42 /* '*' */) end--;
      if (hasPrefix(path, u, end)) return true;
    }
  }
  return false;
}

// strings.HasPrefix(path, rule[:end]) without slicing the rule.
function hasPrefix(path: string, rule: string, end: number): boolean {
  if (path.length < end) return false;
  for (let i = 0; i < end; i++) if (path.charCodeAt(i) !== rule.charCodeAt(i)) return false;
  return true;
}

// RuleAllows, with the "resource/subresource" string built once by the caller.
function allows(rule: RoleRule, request: RequestAttributes, combined: string): boolean {
  if (request.kind === 'resource') {
    return (
      containsOrAll(rule.verbs, request.verb) &&
      containsOrAll(rule.apiGroups ?? NONE, request.group) &&
      resourceMatches(rule.resources ?? NONE, combined, request.subresource) &&
      resourceNameMatches(rule.resourceNames, request.name)
    );
  }
  return (
    containsOrAll(rule.verbs, request.verb) &&
    nonResourceURLMatches(rule.nonResourceURLs ?? NONE, request.path)
  );
}

function combinedResource(request: RequestAttributes): string {
  if (request.kind !== 'resource') return '';
  return request.subresource === '' ? request.resource : `${request.resource}/${request.subresource}`;
}

/** RuleAllows: does this one rule grant the request, wherever it is bound? */
export function ruleAllows(rule: RoleRule, request: RequestAttributes): boolean {
  return allows(rule, request, combinedResource(request));
}

/**
 * Do these rules grant the request through a binding? `binding.namespace` null is a ClusterRoleBinding: it
 * counts for every request, cluster-scoped and non-resource ones included. A string is a RoleBinding in
 * that namespace: VisitRulesFor only lists RoleBindings of the request's own namespace, and only when it
 * is not empty, so a RoleBinding never grants cluster-scoped or non-resource requests (whose namespace is
 * always ''), nor nonResourceURLs rules of a ClusterRole it references.
 */
export function rulesAllow(
  rules: readonly RoleRule[],
  request: RequestAttributes,
  binding: { namespace: string | null },
): boolean {
  if (binding.namespace !== null) {
    if (request.kind !== 'resource' || request.namespace === '' || request.namespace !== binding.namespace) {
      return false;
    }
  }
  const combined = combinedResource(request);
  for (const rule of rules) if (allows(rule, request, combined)) return true;
  return false;
}
