import type { AuditEvent } from './audit-event.js';

/**
 * An audit event as it leaves Elevate for a SIEM, a bucket or a webhook. It carries its place in the
 * chain (seq, prevHash, hash), so a receiver can check that nothing is missing (the seqs run without a
 * gap) and nothing was altered (each hash is SHA-256 over the event and the hash before it, as
 * `elevate audit verify` checks). `id` is the event's hash: unique, the same on every redelivery, and so
 * the document id where a sink has one (Elasticsearch), which makes redelivery overwrite, not duplicate.
 */
export interface AuditRecord {
  id: string;
  seq: number;
  time: string;
  actor: string;
  action: string;
  requestId: string | null;
  cluster: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
  source: 'elevate';
}

export function auditRecord(e: AuditEvent): AuditRecord {
  return {
    id: e.hash,
    seq: e.seq,
    time: e.time.toISOString(),
    actor: e.actor,
    action: e.action,
    requestId: e.requestId,
    cluster: e.cluster,
    details: e.details,
    prevHash: e.prevHash,
    hash: e.hash,
    source: 'elevate',
  };
}
