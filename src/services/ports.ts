/**
 * The outside world as the services see it. Adapters implement these; each
 * service asks only for the methods it uses (Pick<...>).
 */
import type { AccessRequest, BindingRef, Phase } from '../domain/access-request.js';
import type { ActivityRecord } from '../domain/activity.js';
import type { AuditEvent, AuditEventInput } from '../domain/audit-event.js';
import type { DesiredBinding, ObservedSubject } from '../domain/binding.js';
import type { BreakglassMode, Review } from '../domain/breakglass.js';
import type { CredentialAccount, DesiredAccount, IssuedToken } from '../domain/grant-mechanism.js';
import type { Identity, IdentitySource } from '../domain/identity.js';
import type { ClusterGrants, PolicySet, RoleRule } from '../domain/policy/types.js';
import type { SubjectNaming } from '../domain/subject.js';
import type { TicketState } from '../domain/ticket.js';

/**
 * What an authenticator made of a bearer token: who it proves, why it is refused (a token this source
 * issued, but expired, tampered, revoked… — the reason becomes the 401's detail), or null when the token is
 * not one this source knows, so the next source is asked.
 */
export type AuthOutcome = { identity: Identity } | { refused: string } | null;

/** One source of identities (token file, OIDC, TokenReview, API tokens). */
export interface Authenticator {
  authenticate(token: string): Promise<AuthOutcome>;
  /** Something /readyz should report while it lasts (an IdP that cannot be reached…); null when well. */
  degraded?(): string | null;
  /** Ends background work (key refreshes) when the server stops. */
  stop?(): void;
}

/** Where the audit chain ends: enough for an outside witness to detect a truncation later. */
export interface AuditHead {
  seq: number;
  hash: string;
}

export interface RequestFilter {
  phases?: Phase[];
  requester?: string;
  /**
   * Only requests with an audit event after this seq. Every change to a request appends its events in the
   * same transaction, and seqs are handed out in commit order (see the store), so the audit head is a
   * change cursor that neither a late commit nor another server's clock can slip past.
   */
  changedAfterSeq?: number;
  /** Only requests last saved after this time (activity capture's start: grants that ended moments ago). */
  updatedAfter?: Date;
}

/** An integration's API token as stored: only the digest of the secret, never the secret itself. */
export interface ApiTokenRecord {
  /** Unique among tokens that exist (revoked ones included: a name is never reused). */
  name: string;
  /** Hex SHA-256 of the whole token string. */
  digest: string;
  groups: string[];
  createdAt: Date;
  createdBy: string;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
}

/** A user's TOTP enrolment. The secret is stored encrypted (see services/mfa); confirmed once a code matched. */
export interface MfaEnrolment {
  user: string;
  /** The secret as sealed by the secret box (AES-256-GCM), never in the clear. */
  sealedSecret: string;
  createdAt: Date;
  confirmedAt: Date | null;
  /** The TOTP time step of the last code accepted: a code of that step or earlier is a replay. */
  lastStep: number | null;
  /** Wrong codes since the last success or lockout. */
  failures: number;
  lockedUntil: Date | null;
  /** Optimistic concurrency, as for requests: a save at a stale version fails with StaleWrite. */
  version: number;
}

/** One request's save: the request as changed, at the version it was read, and its audit events. */
export interface RequestChange {
  request: AccessRequest;
  events: AuditEventInput[];
}

/** The last identity a user signed in with: what an integration's request for them is judged with. */
export interface KnownIdentity {
  user: string;
  groups: string[];
  source: IdentitySource;
  seenAt: Date;
}

export interface Store {
  /**
   * Inserts a new request and its audit events in one transaction; with a review (an emergency grant's
   * post-incident review) that too, so no emergency grant exists without its review. Conflict when another
   * request holds the same spec.externalKey.
   */
  createRequest(request: AccessRequest, events: AuditEventInput[], review?: Review): Promise<void>;
  /** The request made with this spec.externalKey, whatever its phase; null when none. */
  findRequestByExternalKey(key: string): Promise<AccessRequest | null>;
  /**
   * Saves a changed request and its audit events in one transaction, as the next version: `request.version`
   * is the version it was read at, and if the store holds another by now the save fails with StaleWrite.
   * Returns the request as saved. A change without events is invisible to other servers' change cursor
   * (RequestFilter.changedAfterSeq), so every change carries at least one.
   */
  updateRequest(request: AccessRequest, events: AuditEventInput[]): Promise<AccessRequest>;
  /**
   * Several updateRequest saves in one transaction (a burst of expiries: one commit, one read of the
   * audit chain's head). Each change is checked against its own version: one whose version is stale is
   * skipped whole (null in its place, none of its events written) while the others are saved. Resolves
   * in the order given; rejects (nothing saved) only when the transaction itself fails.
   */
  updateRequests(changes: RequestChange[]): Promise<(AccessRequest | null)[]>;
  getRequest(id: string): Promise<AccessRequest | null>;
  listRequests(filter: RequestFilter): Promise<AccessRequest[]>;
  /** How many requests are in each phase (phases with none are absent). */
  countByPhase(): Promise<Partial<Record<Phase, number>>>;
  /** For events that are not a request's state change (drift repairs). */
  appendAudit(events: AuditEventInput[]): Promise<void>;
  listAudit(options?: { afterSeq?: number; limit?: number }): Promise<AuditEvent[]>;
  /** One request's audit events, oldest first: its timeline. */
  listAuditForRequest(requestId: string): Promise<AuditEvent[]>;
  /** Recomputes the hash chain; returns the first broken seq, or null when intact. */
  verifyAuditChain(): Promise<number | null>;
  /**
   * Runs work while no other server runs work under the same key: on PostgreSQL a session advisory lock
   * keyed by it, so a cluster write and the state saved after it are never interleaved with another
   * server's for the same request. With one server per database (SQLite) work just runs.
   */
  lockAcrossServers<T>(key: string, work: () => Promise<T>): Promise<T>;
  /** The newest audit event's seq and hash; null while the trail is empty. */
  auditHead(): Promise<AuditHead | null>;

  /** Stores a new API token with its audit events; Conflict when the name was ever used. */
  createApiToken(token: ApiTokenRecord, events: AuditEventInput[]): Promise<void>;
  findApiTokenByDigest(digest: string): Promise<ApiTokenRecord | null>;
  listApiTokens(): Promise<ApiTokenRecord[]>;
  /**
   * Marks the token revoked with its audit events; returns it as saved, or null when there is no such
   * token. Revoking a revoked token changes nothing and returns it as it is (no events written).
   */
  revokeApiToken(
    name: string,
    by: string,
    at: Date,
    events: AuditEventInput[],
  ): Promise<ApiTokenRecord | null>;
  /**
   * Records a use (lastUsedAt). With events it records the first use: only while no use is recorded yet, so
   * of servers seeing a token's first calls at once, one writes the events and the others nothing.
   */
  recordApiTokenUse(name: string, at: Date, events: AuditEventInput[]): Promise<void>;

  getMfaEnrolment(user: string): Promise<MfaEnrolment | null>;
  /**
   * Inserts (version 0 not yet stored) or updates the enrolment at `enrolment.version` with its audit
   * events; StaleWrite when another server saved it meanwhile. Returns it as saved (version + 1).
   */
  saveMfaEnrolment(enrolment: MfaEnrolment, events: AuditEventInput[]): Promise<MfaEnrolment>;
  /** Forgets the enrolment with its audit events; false when there was none (nothing written). */
  deleteMfaEnrolment(user: string, events: AuditEventInput[]): Promise<boolean>;

  getReview(id: string): Promise<Review | null>;
  findReviewByRequest(requestId: string): Promise<Review | null>;
  /** Oldest first. */
  listReviews(filter: { state?: Review['state'] }): Promise<Review[]>;
  /** Saves the review at `review.version` with its events; StaleWrite when changed meanwhile. Returns it as saved. */
  saveReview(review: Review, events: AuditEventInput[]): Promise<Review>;

  /** The ticket-system-down mode as stored (offMode, version 0, when never turned on). */
  getBreakglassMode(): Promise<BreakglassMode>;
  /** Saves the mode at `mode.version` with its events; StaleWrite when changed meanwhile. */
  saveBreakglassMode(mode: BreakglassMode, events: AuditEventInput[]): Promise<BreakglassMode>;

  /**
   * Remembers a signed callback by the digest of its signature; false when it was taken before (a replay).
   * Entries older than `forgetBefore` are dropped on the way (the signature's timestamp bounds replays).
   */
  rememberCallback(provider: string, digest: string, at: Date, forgetBefore: Date): Promise<boolean>;

  /**
   * How far an outbox consumer has delivered: the seq of the last audit event it is done with; null when it
   * was never placed (a cursor of 0 is a consumer placed on an empty trail, owed every event).
   */
  getOutboxCursor(consumer: string): Promise<number | null>;
  /** Moves the cursor after a delivery (or placing it): failures in a row are back to 0. */
  saveOutboxCursor(consumer: string, seq: number, at: Date): Promise<void>;
  /** How the consumer is doing as stored; null when it was never placed. */
  getOutboxStatus(consumer: string): Promise<OutboxStatus | null>;
  /**
   * Records a failed delivery (failures in a row + 1, the error). With `refusedSeq`, the consumer refused
   * that event for good once more: its attempts + 1 (counting from 1 again for another event). Returns the
   * counts now on record.
   */
  recordOutboxFailure(
    consumer: string,
    failure: { error: string; at: Date; refusedSeq?: number },
  ): Promise<{ failures: number; attempts: number }>;
  /**
   * Gives up on an event the consumer refused maxAttempts times: recorded as skipped and the cursor moved
   * to it, with `events` (the audit of the skip), in one transaction.
   */
  skipOutboxEvent(
    consumer: string,
    skip: { seq: number; error: string; at: Date },
    events: AuditEventInput[],
  ): Promise<void>;
  /** The events skipped for the consumer, newest first. */
  listOutboxSkips(consumer: string, limit: number): Promise<OutboxSkip[]>;

  /**
   * Records actions taken under grants; one already recorded (same auditId) is ignored. With the ones
   * new, `summarize` makes the audit events (GrantActivity) written in the same transaction. Returns how
   * many were new.
   */
  recordActivity(
    records: ActivityRecord[],
    summarize: (recorded: ActivityRecord[]) => AuditEventInput[],
  ): Promise<number>;
  /** What was done under the grant, oldest first (at most `limit`). */
  listActivity(requestId: string, limit: number): Promise<ActivityRecord[]>;
  countActivity(requestId: string): Promise<number>;

  /** Records who signed in with what groups (upsert). */
  recordIdentitySeen(identity: KnownIdentity): Promise<void>;
  getKnownIdentity(user: string): Promise<KnownIdentity | null>;
  /** Everyone seen signing in: the members of approver groups a notice goes to. */
  listKnownIdentities(): Promise<KnownIdentity[]>;
  close(): Promise<void>;
}

/** How an outbox consumer (an audit sink, a notification channel) is doing, as stored. */
export interface OutboxStatus {
  consumer: string;
  /** The seq of the last audit event it is done with. */
  seq: number;
  /** Deliveries failed in a row (0 once one succeeds). */
  failures: number;
  lastError: string | null;
  lastErrorAt: Date | null;
  /** When a delivery last succeeded (or the cursor was placed). */
  deliveredAt: Date | null;
  /** The event it keeps refusing and how many times it has, until delivered or skipped. */
  poison: { seq: number; attempts: number } | null;
  /** Events skipped after maxAttempts refusals. */
  skipped: number;
}

export interface OutboxSkip {
  seq: number;
  error: string;
  skippedAt: Date;
}

/** Why a ticket system could not answer: down, slow, refusing Elevate's credentials, or answering garbage. */
export class TicketProviderError extends Error {
  constructor(
    readonly provider: string,
    message: string,
  ) {
    super(message);
  }
}

/** Who a ticket lookup is for (the generic http provider passes these on; the others ignore them). */
export interface TicketLookupContext {
  user: string;
  clusters: string[];
}

/** One ticket system (tickets.providers[]): ServiceNow, Jira, or a generic HTTP lookup. */
export interface TicketProvider {
  readonly name: string;
  readonly type: 'servicenow' | 'jira' | 'http';
  /**
   * What the system says about the ticket now. A ticket it does not have is `found: false`; a system that
   * cannot answer (down, timeout, auth refused, garbage) throws TicketProviderError.
   */
  lookup(ticket: string, context: TicketLookupContext): Promise<TicketState>;
}

/** A binding Elevate finds in a cluster carrying its managed-by label. */
export interface ManagedBinding {
  ref: BindingRef;
  requestId: string | null;
  roleRef: DesiredBinding['roleRef'];
  subjects: ObservedSubject[];
}

export type BindingEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ClusterGateway {
  /** Creates the binding, or fixes it if it grants something else. Idempotent. */
  applyBinding(cluster: string, binding: DesiredBinding): Promise<'created' | 'updated' | 'unchanged'>;
  /**
   * Sets annotations on an existing binding in place (a metadata patch: the binding is never re-created, so
   * what it grants never lapses); 'absent' when there is no such binding.
   */
  annotateBinding(
    cluster: string,
    ref: BindingRef,
    annotations: Record<string, string>,
  ): Promise<'updated' | 'absent'>;
  /**
   * Deletes the binding; 'absent' when it was already gone. Throws Unavailable when the cluster can't be
   * reached. `endingRequest` says the binding is one of that request's and the request is ending, so every
   * binding labelled with it may go in the same call: the deletions of a burst of expiries go together.
   */
  deleteBinding(cluster: string, ref: BindingRef, endingRequest?: string): Promise<'deleted' | 'absent'>;
  listManagedBindings(cluster: string): Promise<ManagedBinding[]>;
  /**
   * Reports every change to a binding carrying Elevate's label, so drift is repaired in moments rather
   * than at the next periodic pass. Keeps re-watching until stopped.
   */
  watchManagedBindings(
    cluster: string,
    onEvent: (type: BindingEventType, binding: ManagedBinding) => void,
    onError: (error: Error) => void,
  ): { stop(): void };
  namespaceExists(cluster: string, namespace: string): Promise<boolean>;
  /** The rules of a Role or ClusterRole as the cluster holds them now; null when it does not exist. */
  roleRules(
    cluster: string,
    kind: 'ClusterRole' | 'Role',
    name: string,
    namespace: string | null,
  ): Promise<RoleRule[] | null>;
  /** The namespace's live labels; null when it does not exist. */
  namespaceLabels(cluster: string, namespace: string): Promise<Record<string, string> | null>;
  /** Creates a credential grant's ServiceAccount unless it exists. */
  applyServiceAccount(cluster: string, account: DesiredAccount): Promise<'created' | 'unchanged'>;
  /** Deletes it: every token issued for it stops authenticating (after the API server's token cache). */
  deleteServiceAccount(cluster: string, account: CredentialAccount): Promise<'deleted' | 'absent'>;
  /** The ServiceAccounts carrying Elevate's label in one namespace: credential grants' own. */
  listManagedServiceAccounts(cluster: string, namespace: string): Promise<ManagedAccount[]>;
  /** A token of the ServiceAccount from the TokenRequest API, valid for `seconds`. */
  issueToken(cluster: string, account: CredentialAccount, seconds: number): Promise<IssuedToken>;
}

/** A ServiceAccount found with Elevate's label, and the request its label names. */
export interface ManagedAccount extends CredentialAccount {
  requestId: string | null;
}

/** One cluster Elevate manages: from the config file, or from a Secret in its home namespace. */
export interface ManagedCluster {
  name: string;
  /** Matched by policies' clusterSelector. */
  labels: Record<string, string>;
  /** How its API server names OIDC users (prefixes). */
  subjects: SubjectNaming;
  /** How grants there may give access; absent: bindings only (the file's: in the policy set). */
  grants?: ClusterGrants;
  /** `config` for clusters[] in the file, else `secret NAMESPACE/NAME`. */
  source: string;
}

/** What changed in the managed clusters: names added, names removed, and clusters whose connection changed. */
export interface ClusterChange {
  added: ManagedCluster[];
  removed: ManagedCluster[];
  updated: ManagedCluster[];
}

/**
 * The clusters Elevate manages now: the file's, which hold until a restart, and those a Secret labelled
 * elevate.dev/cluster=true adds while it runs. A request may name only these.
 */
export interface ClusterDirectory {
  all(): ManagedCluster[];
  get(name: string): ManagedCluster | undefined;
  onChange(listener: (change: ClusterChange) => void): () => void;
}

/**
 * The policies, profiles, guardrails and limits in force now. A config reload swaps the whole set at once;
 * a decision reads current() once and judges with that set throughout.
 */
export interface PolicySource {
  current(): PolicySet;
}

/**
 * Who runs the jobs (timers, drift) when several Elevate servers share one database: the holder of the
 * lease. Every server serves the API either way.
 */
export interface Lease {
  /** Tries to take the lease now, then keeps renewing or retrying in the background; reports each change. */
  start(onChange: (held: boolean) => Promise<void>): Promise<void>;
  /** Gives the lease up. */
  stop(): Promise<void>;
}
