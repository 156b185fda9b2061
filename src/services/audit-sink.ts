import type { AuditRecord } from '../domain/audit-record.js';

/**
 * A place the audit trail is streamed to (a SIEM, a log store, a bucket, a syslog collector): the port
 * every adapter in adapters/audit-sinks/ implements. The outbox relay feeds each sink from its own cursor,
 * in audit order, batch by batch, and moves the cursor only after send() resolved.
 */
export interface AuditSink {
  /** The sink's config name (audit.sinks[].name). */
  readonly name: string;
  /** Its type: webhook, splunk, elasticsearch, loki, s3, syslog. */
  readonly type: string;
  /**
   * Delivers the records, in order, and resolves only once the sink confirmed every one of them (2xx, a
   * bulk answer without item errors, an S3 PUT answered). Throws SinkRejected when the sink refused for
   * good (a 4xx other than 408/429: it will never take this as it is); anything else thrown (5xx, 408/429,
   * a timeout, a refused connection, a TLS failure) means "try again later". Redelivery of records the
   * sink already took must not duplicate them where the sink allows it (document ids, object keys).
   * Never puts a secret (token, password, signature key) in an error message.
   */
  send(records: AuditRecord[]): Promise<void>;
  /** Releases connections (syslog's socket, the S3 client). */
  close?(): Promise<void>;
}

/**
 * The sink refused the records for good. `seq` names the record it refused where the sink says which
 * (an Elasticsearch bulk item): the records before it in the batch were taken. Without `seq`, the relay
 * sends the batch again one record at a time to find the one refused.
 */
export class SinkRejected extends Error {
  constructor(
    message: string,
    readonly seq?: number,
  ) {
    super(message);
    this.name = 'SinkRejected';
  }
}
