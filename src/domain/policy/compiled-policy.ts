/**
 * A policy prepared for matching: its globs, window and ticket pattern compiled, and the lists it names
 * pre-rendered for trace reasons. Compiled once per PolicySet (a config load or reload), because a request
 * walks up to a thousand policies and must not re-parse any of them.
 */
import type { RoleKind } from '../target.js';
import { compileGlobs, isGlob, type StringMatcher } from './glob.js';
import { describeSelector } from './label-selector.js';
import { ticketPattern } from './ticket-pattern.js';
import { type CompiledWindow, compileWindow } from './time-window.js';
import type { LabelSelector, Policy, PolicySet, TraceEntry } from './types.js';
import { buildWhoIndex, type WhoIndex } from './who-index.js';

export interface CompiledPolicy {
  policy: Policy;
  /** Position in the set's evaluation order. */
  index: number;
  /** null: anyone (no users, groups or serviceAccounts given). */
  who: ((user: string, groups: readonly string[]) => boolean) | null;
  /**
   * The trace entry for a requester who fails who, built once and shared by every decision (frozen): most
   * policies fail most requests here, and a fresh entry per policy per request would dominate a decision.
   * That is also why its reason says "the requester" rather than the name.
   */
  whoFailure: TraceEntry;
  profiles: StringMatcher | null;
  when: CompiledWindow | null;
  ticket: RegExp | null;
  clusters: StringMatcher | null;
  clusterSelector: LabelSelector | null;
  namespaces: StringMatcher | null;
  /** Namespaces named without a wildcard: the only way into a protected namespace. */
  literalNamespaces: ReadonlySet<string>;
  namespaceSelector: LabelSelector | null;
  roles: StringMatcher | null;
  roleKinds: readonly RoleKind[] | null;
  /** Rendered lists and selectors for the reasons ('' for a matcher not given). */
  text: MatcherText;
}

// Every key always present, so every compiled policy's text has one shape and reading it stays cheap.
export interface MatcherText {
  profiles: string;
  clusters: string;
  clusterSelector: string;
  namespaces: string;
  namespaceSelector: string;
  roles: string;
  roleKinds: string;
  ticket: string;
}

export interface CompiledSet {
  policies: CompiledPolicy[];
  protectedNamespaces: ReadonlySet<string>;
  who: WhoIndex;
  /** Every policy's whoFailure, in order: the trace of a request nobody's policy is for. */
  whoFailures: TraceEntry[];
}

export const list = (items: readonly string[]) => `[${items.join(', ')}]`;

function whoOf(policy: Policy): Pick<CompiledPolicy, 'who' | 'whoFailure'> {
  const { users, groups, serviceAccounts } = policy.match;
  const failure = (matcher: string, reason: string): TraceEntry =>
    Object.freeze({ policy: policy.name, source: policy.source, result: 'skipped', matcher, reason });
  if (users === undefined && groups === undefined && serviceAccounts === undefined) {
    return { who: null, whoFailure: failure('users', 'never: the policy lets anyone ask') };
  }
  // users and serviceAccounts are both globs over the requester's user name, so they fold into one test.
  const names = [...(users ?? []), ...(serviceAccounts ?? [])];
  const byName = names.length > 0 ? compileGlobs(names) : null;
  const byGroup = groups !== undefined && groups.length > 0 ? compileGlobs(groups) : null;
  const given = { users, groups, serviceAccounts };
  const matcher = Object.entries(given).filter(([, v]) => v !== undefined);
  const phrase: Record<string, string> = {
    users: `is not one of ${list(users ?? [])}`,
    groups: `is in none of ${list(groups ?? [])}`,
    serviceAccounts: `is not one of the service accounts ${list(serviceAccounts ?? [])}`,
  };
  const reason =
    matcher.length === 1
      ? phrase[matcher[0]?.[0] as string]
      : matcher.map(([k]) => `${phrase[k]} (${k})`).join(' and ');
  return {
    who: (user, userGroups) => {
      if (byName?.(user)) return true;
      if (byGroup !== null) for (const g of userGroups) if (byGroup(g)) return true;
      return false;
    },
    whoFailure: failure(matcher.map(([k]) => k).join('/'), `the requester ${reason}`),
  };
}

const globs = (patterns: readonly string[] | undefined) =>
  patterns === undefined ? null : compileGlobs(patterns);

export function compilePolicy(policy: Policy, index = 0): CompiledPolicy {
  const m = policy.match;
  const listed = (v: readonly string[] | undefined) => (v === undefined ? '' : list(v));
  const text: MatcherText = {
    profiles: listed(m.profiles),
    clusters: listed(m.clusters),
    clusterSelector: m.clusterSelector ? describeSelector(m.clusterSelector) : '',
    namespaces: listed(m.namespaces),
    namespaceSelector: m.namespaceSelector ? describeSelector(m.namespaceSelector) : '',
    roles: listed(m.roles),
    roleKinds: listed(m.roleKinds),
    ticket: m.ticket === undefined ? '' : `/${m.ticket}/`,
  };
  const who = whoOf(policy);
  // Written out field by field (no spread) so every compiled policy gets the same hidden class.
  return {
    policy,
    index,
    who: who.who,
    whoFailure: who.whoFailure,
    profiles: globs(m.profiles),
    when: m.when ? compileWindow(m.when) : null,
    ticket: m.ticket === undefined ? null : (ticketPattern(m.ticket) ?? /(?!)/),
    clusters: globs(m.clusters),
    clusterSelector: m.clusterSelector ?? null,
    namespaces: globs(m.namespaces),
    literalNamespaces: new Set((m.namespaces ?? []).filter((n) => !isGlob(n))),
    namespaceSelector: m.namespaceSelector ?? null,
    roles: globs(m.roles),
    roleKinds: m.roleKinds ?? null,
    text,
  };
}

// Keyed by the set object: a reload builds a new set, and the old compilation goes with the old set.
const compiledSets = new WeakMap<PolicySet, CompiledSet>();

export function compileSet(set: PolicySet): CompiledSet {
  let c = compiledSets.get(set);
  if (c === undefined) {
    const policies = set.policies.map(compilePolicy);
    c = {
      policies,
      protectedNamespaces: new Set(set.guardrails.protectedNamespaces),
      who: buildWhoIndex(policies),
      whoFailures: policies.map((p) => p.whoFailure),
    };
    compiledSets.set(set, c);
  }
  return c;
}
