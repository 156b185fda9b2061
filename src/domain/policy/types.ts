/**
 * The policy language as the engine sees it: already validated and normalised by the config loader, so the
 * engine trusts every field. Pure data; no I/O. What the engine needs to know about the world (a
 * namespace's live labels, a role's rules, the grants already live) comes in as DecisionFacts, fetched by
 * the service (or left out by the offline `elevate policy explain`, which then says what it could not judge).
 */
import type { GrantMechanism } from '../grant-mechanism.js';
import type { Principals } from '../identity.js';
import type { RoleKind, Target } from '../target.js';
import type { TicketState } from '../ticket.js';

/** Kubernetes label selector semantics (metav1.LabelSelector): every given requirement must hold. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: {
    key: string;
    operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    values?: string[];
  }[];
}

/** When a policy applies, judged at the moment the request is made. */
export interface TimeWindow {
  /** IANA zone, e.g. Europe/Berlin; validated by the loader. */
  timezone: string;
  /** Days as written (`Mon`, `Mon-Fri`, `Sat-Mon` wraps); absent means every day. */
  days?: string[];
  /** "HH:MM-HH:MM" in the zone's local time; the end is exclusive; may wrap midnight ("22:00-06:00"). */
  hours?: string;
}

export interface PolicyMatch {
  /** Globs (`*`) over the requester's user name. users, groups and serviceAccounts: any one of them suffices. */
  users?: string[];
  groups?: string[];
  /** Globs over `system:serviceaccount:NS:NAME` user names. */
  serviceAccounts?: string[];
  clusters?: string[];
  /** Against clusters[].labels in the config. */
  clusterSelector?: LabelSelector;
  /** Namespace globs; a policy that lists namespaces never matches a cluster-wide target. */
  namespaces?: string[];
  /** Against the namespace's live labels in the target cluster; never matches a cluster-wide target. */
  namespaceSelector?: LabelSelector;
  roles?: string[];
  roleKinds?: RoleKind[];
  /** Profile-name globs: the policy only matches requests made with one of these profiles. */
  profiles?: string[];
  when?: TimeWindow;
  /** A regular expression (JavaScript syntax, unanchored unless written with ^…$) the ticket must match. */
  ticket?: string;
  /** Integration names: the policy only matches requests made through one of them (spec.via). */
  via?: string[];
}

export interface ApprovalRule {
  approvers: Principals;
  /** Distinct approvers needed; the requester never counts. */
  required: number;
  timeoutMs: number;
  /** true (default): one deny ends the request; false: denials are recorded and the quorum may still come. */
  denyEnds: boolean;
  /** Approvals and denials must carry a comment. */
  requireComment: boolean;
  /** Each approver must send a fresh one-time code (TOTP) with the approval; absent: false. */
  requireMfa?: boolean;
}

/** How a cluster may be granted. */
export interface ClusterGrants {
  mechanisms: GrantMechanism[];
  credentialNamespace: string;
}

export interface Policy {
  name: string;
  /** Higher first; equal priorities keep their order of appearance. */
  priority: number;
  /** Where it was defined, for explanations: "elevate.yaml policies[3]". */
  source: string;
  match: PolicyMatch;
  decision: 'auto' | 'approval' | 'deny';
  /** Set exactly when decision is 'approval'. */
  approval?: ApprovalRule;
  /** Shown to the requester when this policy denies. */
  message?: string;
  maxDurationMs: number;
  /** Used when the request gives no duration; never above maxDurationMs (the loader checks). */
  defaultDurationMs?: number;
  /**
   * A ticket is required; with a pattern it must also match it; with a provider that system must know it
   * as open (and, with assignedToRequester, assigned to the requester). See domain/ticket.ts.
   */
  requireTicket?: { pattern: string | null; provider?: string; assignedToRequester?: boolean };
  /** A user's next request for the same target under this policy waits this long after the last one ended. */
  cooldownMs?: number;
  /** Live grants (Approved, Scheduled, Active) one user may hold under this policy at once. */
  maxActivePerUser?: number;
  /** Live grants under this policy at once, everyone together. */
  maxActive?: number;
  /** Roles this policy may grant although their rules would escalate (see guardrails). */
  allowEscalatingRoles: string[];
  /** The requester must send a fresh one-time code (TOTP) with the request; absent: false. */
  requireMfa?: boolean;
  /** How its grants give access; absent: binding. */
  grant?: GrantMechanism;
}

/** A named bundle of targets granted together (Rafay's break-glass groups, AWS TEAM's permission sets). */
export interface Profile {
  name: string;
  description?: string;
  targets: Target[];
}

export interface Guardrails {
  /** cluster-admin is never granted unless this is set. */
  allowClusterAdmin: boolean;
  /** Roles no policy can grant. */
  forbiddenRoles: string[];
  /** Reachable only through a policy whose `namespaces` names them literally (not by glob or selector). */
  protectedNamespaces: string[];
}

export interface Limits {
  minDurationMs: number;
  maxDurationMs: number;
  /** Live grants one user may hold at once, under any policy. */
  maxActivePerUser?: number;
  /** Live grants at once, everyone together. */
  maxActive?: number;
  /** How far ahead a scheduled start may lie. */
  maxScheduleAheadMs: number;
}

/** The bounds every grant's duration keeps, whatever a policy says (limits.minDuration/maxDuration). */
export type DurationLimits = Pick<Limits, 'minDurationMs' | 'maxDurationMs'>;

/** Everything a config reload replaces at once. */
export interface PolicySet {
  /** In evaluation order: priority descending, then order of appearance. */
  policies: Policy[];
  profiles: Profile[];
  guardrails: Guardrails;
  limits: Limits;
  /** clusters[].labels from the config, by cluster name. */
  clusterLabels: Record<string, Record<string, string>>;
  /**
   * How each cluster may be granted (clusters[].grants), by cluster name, with the namespace of its
   * per-grant ServiceAccounts. A cluster absent offers bindings only.
   */
  clusterGrants?: Record<string, ClusterGrants>;
  /** sha256 hex of the set's canonical JSON: what PolicyReloaded records. */
  digest: string;
}

/** A rule of a Role or ClusterRole as read from the cluster (rbac/v1 PolicyRule). */
export interface RoleRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** A grant that counts toward limits and cooldowns. */
export interface UsageRecord {
  requestId: string;
  requester: string;
  /** The policy that decided it. */
  policy: string;
  targets: Target[];
  /** Approved, Scheduled or Active: it counts toward maxActive limits. */
  live: boolean;
  /** When a live grant ends (its expiry; null while not yet active); for "frees up at". */
  endsAt: Date | null;
  /** When an ended grant ended (Expired/Revoked); null while live. For cooldowns. */
  endedAt: Date | null;
}

export interface DecisionInput {
  requester: string;
  groups: string[];
  targets: Target[];
  /** The profile the targets came from, or null. */
  profile: string | null;
  /** null: the policy's defaultDuration (or its maxDuration when it has none). */
  durationMs: number | null;
  ticket: string | null;
  /** The integration the request came through (spec.via); absent: the requester asked themselves. */
  via?: string;
  /** Ticket-system-down mode is on: ticket requirements are waived (the decision notes it). */
  ticketsWaived?: boolean;
  /** When access is to begin (spec.startTime); absent or null: now. A ticket's window is counted from it. */
  startTime?: Date | null;
}

export interface DecisionFacts {
  /** The moment the request is judged (when it is made). */
  now: Date;
  /**
   * Live labels per namespaceKey(cluster, ns); null: the namespace does not exist. A missing key means
   * unknown (offline): a namespaceSelector then does not match and the trace says the labels were unknown.
   */
  namespaceLabels?: ReadonlyMap<string, Record<string, string> | null>;
  /** Rules per targetKey; null: the role does not exist. A missing key means unknown (offline). */
  roleRules?: ReadonlyMap<string, RoleRule[] | null>;
  /** Grants that count toward limits and cooldowns (the request being judged is not among them). */
  usage?: UsageRecord[];
  /**
   * The ticket as its provider judged it, for a policy whose requireTicket names a provider. Absent: not
   * looked up yet (the service decides, looks the ticket up with the deciding policy's provider, and
   * decides again), or offline; the decision then notes the ticket was not checked.
   */
  ticket?: TicketFacts;
}

/**
 * What the request's ticket provider said about the ticket (judged by the engine with judgeTicket), or why
 * it could not answer (the request is then refused: fail closed).
 */
export type TicketFacts =
  | { provider: string; state: TicketState }
  | { provider: string; unavailable: string };

/** Why one policy did not decide: the first matcher that failed, and for which target. */
export interface TraceEntry {
  policy: string;
  source: string;
  result: 'matched' | 'skipped';
  /** The matcher that failed ('groups', 'namespaceSelector', 'when', …); absent when matched. */
  matcher?: string;
  /** A sentence: "namespace kube-system is protected: only a policy naming it literally matches". */
  reason?: string;
  /** The target it failed for, when the matcher is per target. */
  target?: Target;
}

export type RefusalKind = 'guardrail' | 'policy' | 'no-match' | 'constraint' | 'limit';

export interface Refusal {
  kind: RefusalKind;
  message: string;
  /** The request field at fault, e.g. spec.duration, spec.ticket. */
  field?: string;
  /** The guardrail rule that triggered, named as written in the role. */
  rule?: RoleRule;
  /** For limits and cooldowns: when the limit frees up, if known. */
  freesAt?: Date;
}

export interface Decision {
  outcome: 'auto' | 'approval' | 'refused';
  /** The policy that decided; null when none matched or a guardrail refused before matching. */
  policy: { name: string; source: string } | null;
  /** Set exactly when outcome is 'refused'. */
  refusal: Refusal | null;
  /** One entry per policy considered, in order, up to and including the one that matched. */
  trace: TraceEntry[];
  /** The duration that will be granted: the request's, or the policy's default. */
  durationMs: number;
  /** Set exactly when outcome is 'approval'. */
  approval: ApprovalRule | null;
  /** How the grant gives access, when not by bindings to the requester (the deciding policy's grant). */
  mechanism?: Exclude<GrantMechanism, 'binding'>;
  /** The requester must send a fresh one-time code with the request (the policy's requireMfa); absent: no. */
  requireMfa?: boolean;
  /** Each approver must send a fresh one-time code (approval.requireMfa); absent: no. */
  approvalRequiresMfa?: boolean;
  /** What could not be judged (offline explain): "labels of namespace payments on dev unknown offline". */
  notes: string[];
}
