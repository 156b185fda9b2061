/** What the report prints for one series of measurements. */
export interface Summary {
  count: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Nearest-rank percentile of ascending values: the smallest value with at least p% of them at or below it.
 * Nearest rank never interpolates, so every number printed is one that was actually measured.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
  };
}

export function formatMs(ms: number): string {
  return Number.isNaN(ms) ? 'n/a' : `${ms.toFixed(1)} ms`;
}

/** One report line: label, then min/p50/p99/max and n in a fixed layout so runs can be diffed. */
export function summaryLine(label: string, values: readonly number[]): string {
  const s = summarize(values);
  const cell = (name: string, ms: number) => `${name} ${formatMs(ms).padStart(9)}`;
  const cells = [cell('min', s.min), cell('p50', s.p50), cell('p99', s.p99), cell('max', s.max)];
  return `  ${label.padEnd(42)} ${cells.join('  ')}  n=${s.count}`;
}

/** One grant whose expiry a bench watched: when it was due, and when access was seen to end. */
export interface ObservedExpiry {
  id: string;
  expiresAt: number;
  /** Receipt of the first SAR that said denied; absent if none did. */
  deniedAt?: number | undefined;
  /** Send time of the last SAR that still said allowed. */
  lastAllowedSentAt?: number | undefined;
}

/**
 * The lines both expiry benches print, from each grant's expiresAt to every sign that its access ended:
 * the SAR's answer (upper bound, and with `lowerBound` the last allowed one), Elevate's own GrantExpired
 * event, and the binding's deletion seen by a watch.
 */
export function expiryLines(
  grants: readonly ObservedExpiry[],
  grantExpiredAt: ReadonlyMap<string, number>,
  deletionSeenAt: ReadonlyMap<string, number>,
  { lowerBound }: { lowerBound: boolean },
): string[] {
  const since = (times: ReadonlyMap<string, number>, from: (g: ObservedExpiry) => number | undefined) =>
    grants.flatMap((g) => {
      const t = times.get(g.id);
      const f = from(g);
      return t === undefined || f === undefined ? [] : [t - f];
    });
  const denied = grants.flatMap((g) => (g.deniedAt === undefined ? [] : [{ ...g, deniedAt: g.deniedAt }]));
  return [
    summaryLine(
      'expiresAt -> SAR denied (upper bound)',
      denied.map((g) => g.deniedAt - g.expiresAt),
    ),
    ...(lowerBound
      ? [
          summaryLine(
            'expiresAt -> last SAR allowed (lower)',
            denied.flatMap((g) =>
              g.lastAllowedSentAt === undefined ? [] : [g.lastAllowedSentAt - g.expiresAt],
            ),
          ),
        ]
      : []),
    summaryLine(
      'expiresAt -> GrantExpired (server audit)',
      since(grantExpiredAt, (g) => g.expiresAt),
    ),
    summaryLine(
      'expiresAt -> binding deletion seen (watch)',
      since(deletionSeenAt, (g) => g.expiresAt),
    ),
    summaryLine(
      'GrantExpired -> SAR denied',
      since(grantExpiredAt, (g) => g.deniedAt).map((d) => -d),
    ),
  ];
}
