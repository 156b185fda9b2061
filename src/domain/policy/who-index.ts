/**
 * Who may ask, for every policy of a set at once. Most policies fail a request on who alone (another team's
 * group), so testing a thousand policies' users, groups and serviceAccounts one by one would dominate a
 * decision. Instead the set keeps an inverted index: literal names and groups map to the policies naming
 * them, prefix globs (`team-*`, `system:serviceaccount:ci:*`) map by prefix, and only policies with other
 * globs are tested one by one. A request then costs a few hash lookups per name and group it carries.
 */
import type { CompiledPolicy } from './compiled-policy.js';

type ByText = Map<string, number[]>;

export interface WhoIndex {
  size: number;
  /** Policies without users, groups or serviceAccounts: anyone. */
  anyone: number[];
  names: ByText;
  groups: ByText;
  /** Prefix globs by prefix length, then prefix. */
  namePrefixes: Map<number, ByText>;
  groupPrefixes: Map<number, ByText>;
  /** Policies with a glob that is not a plain prefix: judged by their own test. */
  others: CompiledPolicy[];
  /**
   * The answer's bytes, reused by every call: allocating a typed array per request costs more than
   * clearing this one. Safe because a decision runs to completion without yielding (no await, no
   * callbacks into other code) and is done with the answer before the next one asks.
   */
  scratch: Uint8Array;
  /** The same bytes read four at a time, for skipping runs of policies nobody passes. */
  scratchWords: Uint32Array;
}

function add(map: ByText, key: string, i: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [i]);
  else if (list.at(-1) !== i) list.push(i);
}

/** true when the pattern was indexed; false when it needs the policy's own test. */
function indexPattern(pattern: string, i: number, exact: ByText, prefixes: Map<number, ByText>): boolean {
  const star = pattern.indexOf('*');
  if (star === -1) {
    add(exact, pattern, i);
    return true;
  }
  if (star !== pattern.length - 1) return false;
  const prefix = pattern.slice(0, -1);
  let byPrefix = prefixes.get(prefix.length);
  if (byPrefix === undefined) {
    byPrefix = new Map();
    prefixes.set(prefix.length, byPrefix);
  }
  add(byPrefix, prefix, i);
  return true;
}

export function buildWhoIndex(policies: readonly CompiledPolicy[]): WhoIndex {
  const index: WhoIndex = {
    size: policies.length,
    anyone: [],
    names: new Map(),
    groups: new Map(),
    namePrefixes: new Map(),
    groupPrefixes: new Map(),
    others: [],
    // Rounded up to whole 32-bit words, so decide can skip four policies per read (see decide.ts).
    scratch: new Uint8Array((policies.length + 3) & ~3),
    scratchWords: new Uint32Array(0),
  };
  index.scratchWords = new Uint32Array(index.scratch.buffer);
  policies.forEach((c, i) => {
    const m = c.policy.match;
    if (c.who === null) {
      index.anyone.push(i);
      return;
    }
    let indexed = true;
    for (const p of [...(m.users ?? []), ...(m.serviceAccounts ?? [])]) {
      indexed = indexPattern(p, i, index.names, index.namePrefixes) && indexed;
    }
    for (const p of m.groups ?? [])
      indexed = indexPattern(p, i, index.groups, index.groupPrefixes) && indexed;
    if (!indexed) index.others.push(c);
  });
  return index;
}

function mark(ok: Uint8Array, list: number[] | undefined): void {
  if (list !== undefined) for (const i of list) ok[i] = 1;
}

function markText(ok: Uint8Array, text: string, exact: ByText, prefixes: Map<number, ByText>): void {
  mark(ok, exact.get(text));
  for (const [length, byPrefix] of prefixes) {
    if (length <= text.length) mark(ok, byPrefix.get(text.slice(0, length)));
  }
}

/**
 * One byte per policy of the set (and up to 3 zero bytes of padding): 1 when the requester passes who.
 * The array is the index's scratch: valid until the next call, so read it before deciding anything else.
 */
export function whoAllowed(index: WhoIndex, user: string, groups: readonly string[]): Uint8Array {
  const ok = index.scratch;
  ok.fill(0);
  mark(ok, index.anyone);
  markText(ok, user, index.names, index.namePrefixes);
  for (const g of groups) markText(ok, g, index.groups, index.groupPrefixes);
  for (const c of index.others) {
    if (ok[c.index] === 0 && c.who?.(user, groups)) ok[c.index] = 1;
  }
  return ok;
}
