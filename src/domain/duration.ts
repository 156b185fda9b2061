/**
 * Durations are written the Go/kubectl way ("90s", "30m", "1h30m", "1.5h", "500ms")
 * so people can reuse what they type into kubectl and Kubernetes manifests.
 * Values are kept as whole milliseconds.
 */
const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/** Parses a Go duration; returns null when the text is not one. */
export function parseDuration(text: string): number | null {
  let s = text.trim();
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    sign = s.startsWith('-') ? -1 : 1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return null;
  let total = 0;
  part.lastIndex = 0;
  while (part.lastIndex < s.length) {
    const start = part.lastIndex;
    const m = part.exec(s);
    if (!m || m.index !== start) return null;
    total += Number(m[1]) * (unitMs[m[2] as string] as number);
  }
  // Hundreds of digits parse as Infinity: that is no duration, not an enormous one.
  if (!Number.isFinite(total)) return null;
  return sign * Math.round(total);
}

/**
 * A duration something can last (a grant, a timeout, an interval): a Go duration above zero. Returns the
 * milliseconds, or a sentence saying what is wrong with the text.
 */
export function parsePositiveDuration(text: string): number | string {
  // Long enough for any real duration; a longer text is refused before it is parsed.
  const ms = text.length > 64 ? null : parseDuration(text);
  if (ms === null) return `"${text.slice(0, 64)}" is not a duration (use e.g. 90s, 30m, 1h30m)`;
  if (ms <= 0) return `duration must be positive, got "${text}"`;
  return ms;
}

/** Formats milliseconds the Go way, dropping zero parts: 5400000 -> "1h30m". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  let out = '';
  if (h) out += `${h}h`;
  if (m) out += `${m}m`;
  if (s || out === '') out += `${Number(s.toFixed(3))}s`;
  return sign + out;
}
