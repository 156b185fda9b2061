/**
 * The one retry policy of Elevate's jobs: the first retry after `minMs`, each further one twice as late,
 * never later than `maxMs`. `failures` counts the failures in a row so far (1 after the first).
 */
export function backoffMs(failures: number, { minMs = 500, maxMs = 30_000 } = {}): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
}
