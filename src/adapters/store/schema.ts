import type { Generated, Transaction } from 'kysely';
import type { AuditEventInput } from '../../domain/audit-event.js';
/** Row shapes. Times are ISO-8601 text so they sort and read the same in every SQL dialect. */
export interface AccessRequestsTable {
  id: string;
  created_at: string;
  updated_at: string;
  version: number;
  phase: string;
  requester: string;
  cluster: string;
  expires_at: string | null;
  spec_json: string;
  policy_json: string;
  approvals_json: string;
  grant_json: string | null;
  revocation_json: string | null;
  /** Added by migration 0002; '[]' on rows saved before. */
  extensions_json: string;
  message: string;
  /** Added by migration 0004; null on rows saved before, and on requests without them. */
  external_key: string | null;
  ticket_json: string | null;
  emergency_json: string | null;
}

export interface AuditEventsTable {
  seq: number;
  time: string;
  actor: string;
  action: string;
  request_id: string | null;
  cluster: string | null;
  details_json: string;
  prev_hash: string;
  hash: string;
}

/** Migration 0003. */
export interface ApiTokensTable {
  name: string;
  digest: string;
  groups_json: string;
  created_at: string;
  created_by: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
}

/** Migration 0003. */
export interface MfaEnrolmentsTable {
  user_name: string;
  sealed_secret: string;
  created_at: string;
  confirmed_at: string | null;
  last_step: number | null;
  failures: number;
  locked_until: string | null;
  version: number;
}

/** Migration 0004: post-incident reviews of emergency grants. */
export interface ReviewsTable {
  id: string;
  request_id: string;
  user_name: string;
  kind: string;
  state: string;
  opened_at: string;
  due_at: string;
  outcome: string | null;
  notes: string | null;
  completed_by: string | null;
  completed_at: string | null;
  overdue_notified_at: string | null;
  version: number;
}

/** Migration 0004: the one row (id 1) of the ticket-system-down mode; absent: never turned on. */
export interface BreakglassModeTable {
  id: number;
  /** 0 or 1 (SQLite has no boolean). */
  is_on: number;
  since: string | null;
  until: string | null;
  by_user: string | null;
  reason: string | null;
  version: number;
}

/** Migration 0004: signed ticket-system callbacks already taken, by the digest of their signature. */
export interface TicketCallbacksTable {
  provider: string;
  digest: string;
  received_at: string;
}

/** Migration 0004: how far in the audit trail each outbox consumer has delivered. */
export interface OutboxCursorsTable {
  consumer: string;
  seq: number;
  updated_at: string;
  /** Migration 0005: deliveries failed in a row, the last failure, the last delivery. */
  failures: Generated<number>;
  last_error: string | null;
  last_error_at: string | null;
  delivered_at: string | null;
  /** Migration 0005: the event the consumer keeps refusing, and how many times it has. */
  poison_seq: number | null;
  poison_attempts: Generated<number>;
}

/** Migration 0006: what was done under a grant, from the API server's audit events. */
export interface GrantActivityTable {
  audit_id: string;
  request_id: string;
  cluster: string;
  time: string;
  user_name: string;
  impersonator: string | null;
  verb: string;
  api_group: string | null;
  resource: string | null;
  subresource: string | null;
  namespace: string | null;
  name: string | null;
  uri: string | null;
  code: number | null;
  user_agent: string | null;
  source_ips_json: string;
  /** 1 when the authorizer allowed it through one of the grant's bindings. */
  via_grant: number;
}

/** Migration 0005: events a consumer refused maxAttempts times, skipped so the rest could go. */
export interface OutboxSkipsTable {
  consumer: string;
  seq: number;
  error: string;
  skipped_at: string;
}

/** Migration 0004: the last identity each user signed in with. */
export interface KnownIdentitiesTable {
  user_name: string;
  groups_json: string;
  source_json: string;
  seen_at: string;
}

export interface Database {
  access_requests: AccessRequestsTable;
  audit_events: AuditEventsTable;
  api_tokens: ApiTokensTable;
  mfa_enrolments: MfaEnrolmentsTable;
  reviews: ReviewsTable;
  breakglass_mode: BreakglassModeTable;
  ticket_callbacks: TicketCallbacksTable;
  outbox_cursors: OutboxCursorsTable;
  outbox_skips: OutboxSkipsTable;
  grant_activity: GrantActivityTable;
  known_identities: KnownIdentitiesTable;
}

/** Appends audit events to the chain inside a transaction (kysely-store.ts), for the row modules. */
export type AppendEvents = (trx: Transaction<Database>, events: AuditEventInput[]) => Promise<void>;
