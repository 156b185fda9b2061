import { Counter, Gauge, type Registry } from 'prom-client';

/** The outbox relay per consumer (a webhook's is `webhook:<hash of its URL>`): how far behind, what failed. */
export function createOutboxMetrics(registry: Registry) {
  const lag = new Gauge({
    name: 'elevate_outbox_lag_events',
    help: 'Audit events not yet handed to the consumer (audit head seq minus its cursor), on the leader',
    labelNames: ['consumer'],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'elevate_outbox_delivery_failures_total',
    help: 'Deliveries to the consumer that failed and will be retried with backoff',
    labelNames: ['consumer'],
    registers: [registry],
  });
  const delivered = new Counter({
    name: 'elevate_outbox_delivered_events_total',
    help: 'Audit events delivered to the consumer',
    labelNames: ['consumer'],
    registers: [registry],
  });
  return {
    outboxLag(consumer: string, events: number): void {
      lag.set({ consumer }, events);
    },
    outboxDelivered(consumer: string, count: number): void {
      delivered.inc({ consumer }, count);
    },
    outboxFailed(consumer: string): void {
      failures.inc({ consumer });
    },
  };
}
