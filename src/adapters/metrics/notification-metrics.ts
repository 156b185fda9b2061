import { Counter, Gauge, type Registry } from 'prom-client';

/** Notifications per channel (notifications.channels[].name): a dead channel shows as failing, and behind. */
export function createNotificationMetrics(registry: Registry) {
  const labelNames = ['channel'];
  const failing = new Gauge({
    name: 'elevate_notification_channel_failing',
    help: '1 while the channel’s last delivery failed (it is retried with backoff), 0 once it delivers',
    labelNames,
    registers: [registry],
  });
  const lag = new Gauge({
    name: 'elevate_notification_lag_events',
    help: 'Audit events the channel has not yet been offered (audit head seq minus its cursor), on the leader',
    labelNames,
    registers: [registry],
  });
  const failures = new Counter({
    name: 'elevate_notification_failures_total',
    help: 'Deliveries to the channel that failed and will be retried',
    labelNames,
    registers: [registry],
  });
  const delivered = new Counter({
    name: 'elevate_notification_delivered_events_total',
    help: 'Audit events the channel is done with (notices sent, or none due)',
    labelNames,
    registers: [registry],
  });
  const undeliverable = new Counter({
    name: 'elevate_notification_undeliverable_total',
    help: 'Recipients a channel gave up on for good (no such Slack user or mailbox, no known address)',
    labelNames,
    registers: [registry],
  });
  return {
    notificationDelivered(channel: string, count: number): void {
      delivered.inc({ channel }, count);
      failing.set({ channel }, 0);
    },
    notificationFailed(channel: string): void {
      failures.inc({ channel });
      failing.set({ channel }, 1);
    },
    notificationLag(channel: string, events: number): void {
      lag.set({ channel }, events);
    },
    notificationUndeliverable(channel: string): void {
      undeliverable.inc({ channel });
    },
  };
}
