/**
 * Does one policy match a request, and if not, the first matcher that failed. The order is fixed, so a
 * trace reads the same every time and the cheap, most selective checks run first:
 *   who (users/groups/serviceAccounts: any one suffices; none given: anyone), via, profiles, when, ticket,
 *   then for each target in turn: clusters, clusterSelector, namespaces, namespaceSelector, roles, roleKinds.
 * A policy matches only when the request-wide matchers hold and EVERY target matches.
 */
import { namespaceKey, type Target } from '../target.js';
import { type CompiledPolicy, type CompiledSet, compileSet } from './compiled-policy.js';
import { selectorMatches } from './label-selector.js';
import { inCompiledWindow, localTime } from './time-window.js';
import type { DecisionFacts, DecisionInput, Policy, PolicySet, TraceEntry } from './types.js';

export interface MatchContext {
  input: DecisionInput;
  facts: DecisionFacts;
  clusterLabels: PolicySet['clusterLabels'];
  protectedNamespaces: ReadonlySet<string>;
  /** What could not be judged; a Set so the same unknown namespace is noted once. */
  notes: Set<string>;
}

/** A skipped trace entry: the matcher that failed, why, and for which target. */
export type TargetFailure = TraceEntry & { matcher: string; reason: string };

// Failures build their trace entry directly: this runs for every policy a requester passes who for.
function fail(c: CompiledPolicy, t: Target, matcher: string, reason: string): TargetFailure {
  const p = c.policy;
  return { policy: p.name, source: p.source, result: 'skipped', matcher, reason, target: t };
}

function failAll(c: CompiledPolicy, matcher: string, reason: string): TargetFailure {
  const p = c.policy;
  return { policy: p.name, source: p.source, result: 'skipped', matcher, reason };
}

function namespaceFailure(c: CompiledPolicy, t: Target, ns: string, ctx: MatchContext): TargetFailure | null {
  if (ctx.protectedNamespaces.has(ns) && !c.literalNamespaces.has(ns)) {
    return fail(
      c,
      t,
      'namespaces',
      `namespace ${ns} is protected: only a policy naming it literally matches`,
    );
  }
  if (c.namespaces !== null && !c.namespaces(ns)) {
    return fail(c, t, 'namespaces', `namespace ${ns} is not one of ${c.text.namespaces}`);
  }
  if (c.namespaceSelector !== null) {
    const labels = ctx.facts.namespaceLabels?.get(namespaceKey(t.cluster, ns));
    if (labels === undefined) {
      const unknown = `labels of namespace ${ns} on cluster ${t.cluster} unknown (offline)`;
      ctx.notes.add(unknown);
      return fail(c, t, 'namespaceSelector', unknown);
    }
    if (labels === null) {
      return fail(c, t, 'namespaceSelector', `namespace ${ns} does not exist on cluster ${t.cluster}`);
    }
    if (!selectorMatches(c.namespaceSelector, labels)) {
      return fail(
        c,
        t,
        'namespaceSelector',
        `namespace ${ns}'s labels do not satisfy ${c.text.namespaceSelector}`,
      );
    }
  }
  return null;
}

/** The first per-target matcher that fails for this target, or null when the target matches. */
export function targetFailure(c: CompiledPolicy, t: Target, ctx: MatchContext): TargetFailure | null {
  if (c.clusters !== null && !c.clusters(t.cluster)) {
    return fail(c, t, 'clusters', `cluster ${t.cluster} is not one of ${c.text.clusters}`);
  }
  if (c.clusterSelector !== null && !selectorMatches(c.clusterSelector, ctx.clusterLabels[t.cluster] ?? {})) {
    return fail(
      c,
      t,
      'clusterSelector',
      `cluster ${t.cluster}'s labels do not satisfy ${c.text.clusterSelector}`,
    );
  }
  if (t.namespace === null) {
    if (c.namespaces !== null) {
      return fail(c, t, 'namespaces', 'a cluster-wide target never matches a policy that lists namespaces');
    }
    if (c.namespaceSelector !== null) {
      return fail(c, t, 'namespaceSelector', 'a cluster-wide target never matches a namespaceSelector');
    }
  } else {
    const f = namespaceFailure(c, t, t.namespace, ctx);
    if (f !== null) return f;
  }
  if (c.roles !== null && !c.roles(t.role)) {
    return fail(c, t, 'roles', `role ${t.role} is not one of ${c.text.roles}`);
  }
  if (c.roleKinds !== null && !c.roleKinds.includes(t.roleKind)) {
    return fail(c, t, 'roleKinds', `role kind ${t.roleKind} is not one of ${c.text.roleKinds}`);
  }
  return null;
}

/** The request-wide matchers after who: via, profiles, when, ticket. */
function requestFailure(c: CompiledPolicy, ctx: MatchContext): TargetFailure | null {
  const { input, facts } = ctx;
  const via = c.policy.match.via;
  if (via !== undefined && (input.via === undefined || !via.includes(input.via))) {
    const how = input.via === undefined ? 'made directly' : `made through ${input.via}`;
    return failAll(c, 'via', `the request was ${how}, not through ${via.join(' or ')}`);
  }
  if (c.profiles !== null) {
    if (input.profile === null) {
      return failAll(
        c,
        'profiles',
        `the request names no profile; the policy needs one of ${c.text.profiles}`,
      );
    }
    if (!c.profiles(input.profile)) {
      return failAll(c, 'profiles', `profile ${input.profile} is not one of ${c.text.profiles}`);
    }
  }
  if (c.when !== null && !inCompiledWindow(c.when, facts.now)) {
    const w = c.when;
    if (w.invalid !== null) return failAll(c, 'when', `the window ${w.text} is invalid: ${w.invalid}`);
    const local = localTime(w.timezone, facts.now).text;
    return failAll(c, 'when', `${local} in ${w.timezone} is outside ${w.text}`);
  }
  if (c.ticket !== null) {
    if (input.ticket === null) {
      return failAll(c, 'ticket', `no ticket given; the policy needs one matching ${c.text.ticket}`);
    }
    if (!c.ticket.test(input.ticket))
      return failAll(c, 'ticket', `ticket ${input.ticket} does not match ${c.text.ticket}`);
  }
  return null;
}

/**
 * One trace entry: matched, or the first matcher that failed (and for which target). `whoOk`: whether the
 * requester passes the policy's who matcher, judged for the whole set at once (who-index.ts).
 */
export function matchCompiled(c: CompiledPolicy, whoOk: boolean, ctx: MatchContext): TraceEntry {
  if (!whoOk) return c.whoFailure;
  const f = requestFailure(c, ctx);
  if (f !== null) return f;
  for (const t of ctx.input.targets) {
    const tf = targetFailure(c, t, ctx);
    if (tf !== null) return tf;
  }
  return { policy: c.policy.name, source: c.policy.source, result: 'matched' };
}

export function contextFor(
  compiled: CompiledSet,
  set: PolicySet,
  input: DecisionInput,
  facts: DecisionFacts,
) {
  return {
    input,
    facts,
    clusterLabels: set.clusterLabels,
    protectedNamespaces: compiled.protectedNamespaces,
    notes: new Set<string>(),
  } satisfies MatchContext;
}

/** One policy of a set judged alone (for tests and tools); `decide` walks the compiled set instead. */
export function matchPolicy(
  set: PolicySet,
  policy: Policy,
  input: DecisionInput,
  facts: DecisionFacts,
): { entry: TraceEntry; notes: string[] } {
  const compiled = compileSet(set);
  const c = compiled.policies.find((x) => x.policy === policy);
  if (c === undefined) throw new Error(`policy ${policy.name} is not in this set`);
  const ctx = contextFor(compiled, set, input, facts);
  const whoOk = c.who === null || c.who(input.requester, input.groups);
  return { entry: matchCompiled(c, whoOk, ctx), notes: [...ctx.notes] };
}
