import { Gauge, type Registry } from 'prom-client';

/** Post-incident reviews of emergency grants, read per scrape so every server reports the same numbers. */
export function createReviewMetrics(registry: Registry) {
  let count: () => Promise<{ open: number; overdue: number }> = async () => ({ open: 0, overdue: 0 });
  let last: Promise<{ open: number; overdue: number }> | null = null;
  // One read of the store per scrape, shared by both gauges.
  const read = () => {
    last ??= count().finally(() => {
      last = null;
    });
    return last;
  };
  new Gauge({
    name: 'elevate_reviews_open',
    help: 'Post-incident reviews of emergency grants not yet completed',
    registers: [registry],
    async collect() {
      this.set((await read()).open);
    },
  });
  new Gauge({
    name: 'elevate_reviews_overdue',
    help: 'Open reviews past their deadline (breakglass.reviewDeadline)',
    registers: [registry],
    async collect() {
      this.set((await read()).overdue);
    },
  });
  return {
    /** Where the review gauges are read from; set once the review service exists. */
    countReviewsWith(counter: () => Promise<{ open: number; overdue: number }>): void {
      count = counter;
    },
  };
}
