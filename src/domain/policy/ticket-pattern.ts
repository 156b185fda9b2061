/**
 * Ticket patterns (the `ticket` matcher and `requireTicket.pattern`) are JavaScript regular expressions,
 * unanchored unless written with ^…$. They are compiled once per distinct text, not per request.
 */

// Bounded by the config's size; the cap only guards against unexpected callers.
const MAX_CACHED = 10_000;
const cache = new Map<string, RegExp | null>();

/** The compiled pattern, or null when it does not compile (the loader refuses those; never match then). */
export function ticketPattern(source: string): RegExp | null {
  let re = cache.get(source);
  if (re === undefined) {
    if (cache.size >= MAX_CACHED) cache.clear();
    try {
      // No flags: a `g` or `y` RegExp keeps lastIndex between test() calls and would answer differently
      // for the same ticket on alternate requests.
      re = new RegExp(source);
    } catch {
      re = null;
    }
    cache.set(source, re);
  }
  return re;
}

export function ticketMatches(source: string, ticket: string): boolean {
  return ticketPattern(source)?.test(ticket) ?? false;
}
