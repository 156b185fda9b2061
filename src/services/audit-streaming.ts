import { auditRecord } from '../domain/audit-record.js';
import type { AuditSink } from './audit-sink.js';
import type { OutboxConsumer } from './outbox.js';

/** The cursor name of an audit sink: sink names are unique DNS labels, so this never meets a webhook's. */
export const sinkConsumerName = (sink: string) => `sink:${sink}`;

export interface SinkDelivery {
  batchSize: number;
  maxAttempts: number;
  startAt: 'beginning' | 'now';
}

/**
 * An audit sink as an outbox consumer: every event, in audit order, batchSize at a time, each as the
 * AuditRecord with its seq and hashes; an event the sink refuses maxAttempts times is skipped.
 */
export function sinkConsumer(sink: AuditSink, delivery: SinkDelivery): OutboxConsumer {
  return {
    name: sinkConsumerName(sink.name),
    startAt: delivery.startAt === 'now' ? 'head' : 'beginning',
    maxEventsPerDelivery: delivery.batchSize,
    maxAttempts: delivery.maxAttempts,
    wants: () => true,
    deliver: (events) => sink.send(events.map(auditRecord)),
  };
}
