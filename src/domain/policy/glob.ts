/**
 * Globs as the policy language writes them: `*` stands for any run of characters (none included, `:` and
 * `/` included); every other character is literal; the whole value must match. A request is judged against
 * up to a thousand policies, so patterns are compiled once and kept, never re-parsed per request.
 */

/** A compiled list of globs: true when any one of them matches the value. */
export type StringMatcher = (value: string) => boolean;

// Patterns come from the config, so this cache is bounded by the config's size; the cap only guards
// against a caller feeding it request-supplied patterns by mistake.
const MAX_CACHED = 10_000;
const regexps = new Map<string, RegExp>();

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function globSource(pattern: string): string {
  return pattern.split('*').map(escapeRegExp).join('.*');
}

/** The anchored RegExp for one glob, cached by its text. */
export function globToRegExp(pattern: string): RegExp {
  let re = regexps.get(pattern);
  if (re === undefined) {
    if (regexps.size >= MAX_CACHED) regexps.clear();
    // `s`: a `*` also spans line breaks, so a glob never fails on a value merely for containing one.
    re = new RegExp(`^(?:${globSource(pattern)})$`, 's');
    regexps.set(pattern, re);
  }
  return re;
}

export function isGlob(pattern: string): boolean {
  return pattern.includes('*');
}

export function globMatches(pattern: string, value: string): boolean {
  return isGlob(pattern) ? globToRegExp(pattern).test(value) : pattern === value;
}

/**
 * Compiles a list of globs into one test: literal names go into a Set (one hash lookup however many there
 * are), the wildcard ones into a single alternation, so a policy listing twenty namespaces costs one
 * lookup and at most one RegExp run.
 */
export function compileGlobs(patterns: readonly string[]): StringMatcher {
  const literals = new Set<string>();
  const wild: string[] = [];
  for (const p of patterns) {
    if (p === '*') return () => true;
    if (isGlob(p)) wild.push(p);
    else literals.add(p);
  }
  if (wild.length === 0) {
    if (literals.size === 1) {
      const only = patterns.find((p) => !isGlob(p)) as string;
      return (value) => value === only;
    }
    return (value) => literals.has(value);
  }
  // Prefix globs (`team-*`, `system:serviceaccount:ci:*`) are most of what people write; startsWith
  // beats a RegExp run several times over.
  if (wild.every((p) => p.indexOf('*') === p.length - 1)) {
    const prefixes = wild.map((p) => p.slice(0, -1));
    const anyPrefix = (value: string) => {
      for (const p of prefixes) if (value.startsWith(p)) return true;
      return false;
    };
    if (literals.size === 0) return anyPrefix;
    return (value) => literals.has(value) || anyPrefix(value);
  }
  const re =
    wild.length === 1
      ? globToRegExp(wild[0] as string)
      : new RegExp(`^(?:${wild.map(globSource).join('|')})$`, 's');
  if (literals.size === 0) return (value) => re.test(value);
  return (value) => literals.has(value) || re.test(value);
}
