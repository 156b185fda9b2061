/**
 * Static checks of a policy set for `elevate policy check`: things the config allows but a person most
 * likely did not mean. Conservative: a warning is given only when it certainly holds; where it cannot be
 * told offline (a namespaceSelector, who is in which group) the set gets the benefit of the doubt.
 */

import type { RoleKind, Target } from '../target.js';
import { globMatches, isGlob } from './glob.js';
import { checkGuardrails } from './guardrails.js';
import { selectorMatches } from './label-selector.js';
import type { Policy, PolicyMatch, PolicySet, Profile } from './types.js';

export interface PolicyWarning {
  /** Where in the file: "elevate.yaml policies[2] (view-late)", "elevate.yaml profiles[0] (oncall)". */
  where: string;
  message: string;
}

export function lintPolicySet(set: PolicySet, file: string): PolicyWarning[] {
  return [...shadowedPolicies(set), ...profileProblems(set, file), ...profileGlobsMatchingNothing(set)];
}

const policyWhere = (p: Policy) => `${p.source} (${p.name})`;

/** Policies that never decide: an earlier one (in evaluation order) matches every request they would. */
export function shadowedPolicies(set: PolicySet): PolicyWarning[] {
  const out: PolicyWarning[] = [];
  set.policies.forEach((later, j) => {
    const winner = set.policies.slice(0, j).find((earlier) => covers(earlier.match, later.match, set));
    if (winner)
      out.push({
        where: policyWhere(later),
        message: `never matches: ${policyWhere(winner)} comes first and matches every request this one would`,
      });
  });
  return out;
}

/**
 * Every glob of `later` is covered by one of `earlier`'s. A glob covers another when it matches the other's
 * text with the other's `*` taken as characters: only its own `*` can consume them, so whatever the other's
 * `*` stand for, it still matches.
 */
function globsCover(earlier: readonly string[], later: readonly string[]): boolean {
  return later.every((l) => earlier.some((e) => globMatches(e, l)));
}

/** An absent matcher matches everything; a present one covers an absent one only with a `*` entry. */
function listCovers(earlier: readonly string[] | undefined, later: readonly string[] | undefined): boolean {
  if (earlier === undefined) return true;
  if (later === undefined) return earlier.includes('*');
  return globsCover(earlier, later);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Absent on the earlier policy, or written identically on both. */
function absentOrSame(earlier: unknown, later: unknown): boolean {
  return earlier === undefined || same(earlier, later);
}

function covers(e: PolicyMatch, l: PolicyMatch, set: PolicySet): boolean {
  return (
    principalsCover(e, l) &&
    listCovers(e.clusters, l.clusters) &&
    absentOrSame(e.clusterSelector, l.clusterSelector) &&
    namespacesCover(e, l, set.guardrails.protectedNamespaces) &&
    absentOrSame(e.namespaceSelector, l.namespaceSelector) &&
    listCovers(e.roles, l.roles) &&
    roleKindsCover(e.roleKinds, l.roleKinds) &&
    // A policy naming profiles never matches a request made without one.
    (e.profiles === undefined || (l.profiles !== undefined && globsCover(e.profiles, l.profiles))) &&
    absentOrSame(e.when, l.when) &&
    absentOrSame(e.ticket, l.ticket)
  );
}

function roleKindsCover(earlier: readonly RoleKind[] | undefined, later: readonly RoleKind[] | undefined) {
  const all: RoleKind[] = ['ClusterRole', 'Role'];
  return (later ?? all).every((k) => (earlier ?? all).includes(k));
}

/**
 * users, groups and serviceAccounts: any one suffices, so each of the later's must be covered. users and
 * serviceAccounts are both globs over the requester's user name (system:serviceaccount:NS:NAME for a
 * service account), so they cover each other.
 */
function principalsCover(e: PolicyMatch, l: PolicyMatch): boolean {
  const eAny = e.users !== undefined || e.groups !== undefined || e.serviceAccounts !== undefined;
  const eNames = [...(e.users ?? []), ...(e.serviceAccounts ?? [])];
  if (!eAny || eNames.includes('*')) return true;
  const lAny = l.users !== undefined || l.groups !== undefined || l.serviceAccounts !== undefined;
  if (!lAny) return false;
  return (
    globsCover(eNames, [...(l.users ?? []), ...(l.serviceAccounts ?? [])]) &&
    globsCover(e.groups ?? [], l.groups ?? [])
  );
}

function namespacesCover(e: PolicyMatch, l: PolicyMatch, protectedNamespaces: readonly string[]): boolean {
  // A policy listing namespaces never matches a cluster-wide target; one without them does.
  if (e.namespaces !== undefined && l.namespaces === undefined) return false;
  if (!listCovers(e.namespaces, l.namespaces)) return false;
  // Protected namespaces are reached only by naming them literally: the later one may, the earlier not.
  const named = (l.namespaces ?? []).filter((ns) => !isGlob(ns) && protectedNamespaces.includes(ns));
  return named.every((ns) => e.namespaces?.includes(ns) ?? false);
}

/** Profiles that no auto or approval policy admits whole, and profiles asking for a forbidden role. */
export function profileProblems(set: PolicySet, file: string): PolicyWarning[] {
  const out: PolicyWarning[] = [];
  set.profiles.forEach((profile, i) => {
    const where = `${file} profiles[${i}] (${profile.name})`;
    profile.targets.forEach((t, j) => {
      // Only the checks by name: role rules are unknown offline.
      const refusal = checkGuardrails(set.guardrails, null, t, undefined);
      if (refusal)
        out.push({ where: `${where}.targets[${j}]`, message: `never granted: ${refusal.message}` });
    });
    const allowed = set.policies.some(
      (p) => p.decision !== 'deny' && profile.targets.every((t) => admits(p, t, profile, set)),
    );
    if (!allowed)
      out.push({
        where,
        message:
          'no auto or approval policy admits every one of its targets (judging clusters, clusterSelector, namespaces, roles, roleKinds and profiles): requests for it will be refused',
      });
  });
  return out;
}

/** Whether the policy's target-side matchers may admit the target; a namespaceSelector is given the doubt. */
function admits(p: Policy, t: Target, profile: Profile, set: PolicySet): boolean {
  const m = p.match;
  const any = (globs: readonly string[] | undefined, value: string) =>
    globs === undefined || globs.some((g) => globMatches(g, value));
  if (!any(m.clusters, t.cluster) || !any(m.roles, t.role) || !any(m.profiles, profile.name)) return false;
  if (m.roleKinds !== undefined && !m.roleKinds.includes(t.roleKind)) return false;
  if (m.clusterSelector && !selectorMatches(m.clusterSelector, set.clusterLabels[t.cluster] ?? {}))
    return false;
  if (t.namespace === null) return m.namespaces === undefined && m.namespaceSelector === undefined;
  if (set.guardrails.protectedNamespaces.includes(t.namespace))
    return m.namespaces?.includes(t.namespace) ?? false;
  return any(m.namespaces, t.namespace);
}

/** `match.profiles` globs that name no configured profile. */
export function profileGlobsMatchingNothing(set: PolicySet): PolicyWarning[] {
  const names = set.profiles.map((p) => p.name);
  return set.policies.flatMap((p) =>
    (p.match.profiles ?? [])
      .filter((g) => !names.some((n) => globMatches(g, n)))
      .map((g) => ({
        where: `${policyWhere(p)} match.profiles`,
        message: `"${g}" matches no profile: this policy matches no request made with a profile it names that way`,
      })),
  );
}
