import { Counter, Gauge, type Registry } from 'prom-client';

/** Audit streaming per sink (audit.sinks[].name): how far behind, what failed, what was given up. */
export function createAuditSinkMetrics(registry: Registry) {
  const labelNames = ['sink'];
  const lagEvents = new Gauge({
    name: 'elevate_audit_sink_lag_events',
    help: 'Audit events the sink has not yet confirmed (audit head seq minus its cursor), on the leader',
    labelNames,
    registers: [registry],
  });
  const lagSeconds = new Gauge({
    name: 'elevate_audit_sink_lag_seconds',
    help: 'Age of the oldest audit event the sink has not yet confirmed (0 when caught up), on the leader',
    labelNames,
    registers: [registry],
  });
  const failures = new Counter({
    name: 'elevate_audit_sink_failures_total',
    help: 'Deliveries to the sink that failed (retried with backoff, or counted against a refused event)',
    labelNames,
    registers: [registry],
  });
  const delivered = new Counter({
    name: 'elevate_audit_sink_delivered_events_total',
    help: 'Audit events the sink confirmed',
    labelNames,
    registers: [registry],
  });
  const skipped = new Counter({
    name: 'elevate_audit_sink_skipped_events_total',
    help: 'Audit events the sink refused maxAttempts times, skipped and recorded (AuditDeliverySkipped)',
    labelNames,
    registers: [registry],
  });
  return {
    sinkLag(sink: string, events: number, seconds: number): void {
      lagEvents.set({ sink }, events);
      lagSeconds.set({ sink }, seconds);
    },
    sinkDelivered(sink: string, count: number): void {
      delivered.inc({ sink }, count);
    },
    sinkFailed(sink: string): void {
      failures.inc({ sink });
    },
    sinkSkipped(sink: string): void {
      skipped.inc({ sink });
    },
  };
}
