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

export interface Database {
  access_requests: AccessRequestsTable;
  audit_events: AuditEventsTable;
  api_tokens: ApiTokensTable;
  mfa_enrolments: MfaEnrolmentsTable;
}
