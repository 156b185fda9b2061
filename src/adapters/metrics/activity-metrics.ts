import { Counter, type Registry } from 'prom-client';

/** Activity capture: the API servers' audit events, attributed to grants or dropped. */
export function createActivityMetrics(registry: Registry) {
  const events = new Counter({
    name: 'elevate_activity_events_total',
    help: 'Audit events received from API servers: attributed to a grant, or dropped (anyone else, out of scope)',
    labelNames: ['cluster', 'outcome'],
    registers: [registry],
  });
  return {
    activityIngested(cluster: string, attributed: number, dropped: number): void {
      if (attributed > 0) events.inc({ cluster, outcome: 'attributed' }, attributed);
      if (dropped > 0) events.inc({ cluster, outcome: 'dropped' }, dropped);
    },
  };
}
