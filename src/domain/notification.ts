import type { AccessRequest } from './access-request.js';
import { type AuditEvent, systemActor } from './audit-event.js';
import { formatDuration } from './duration.js';
import { globMatches } from './policy/glob.js';
import { describeTarget } from './target.js';

/** What people are told about, as rules name it; each comes from one or more audit actions. */
export const notificationKinds = [
  'request.pending',
  'request.decided',
  'grant.activated',
  'grant.expiring',
  'grant.ended',
  'breakglass',
  'escalation.refused',
  'ticket.invalidated',
  'review.overdue',
] as const;
export type NotificationKind = (typeof notificationKinds)[number];

export const severities = ['info', 'warning', 'high', 'critical'] as const;
export type Severity = (typeof severities)[number];

/** Written by the expiry-warning job once per grant and expiry, some minutes before the grant ends. */
export const grantExpiringSoon = 'GrantExpiringSoon';

/** The kind of notice an audit event makes, and how severe it is; null: nobody is told. */
export function kindOf(e: AuditEvent): { kind: NotificationKind; severity: Severity } | null {
  switch (e.action) {
    case 'RequestCreated':
      return e.details.decision === 'approval' ? { kind: 'request.pending', severity: 'info' } : null;
    case 'RequestApproved':
      // A policy's auto-approval is no news to the requester: activation follows at once.
      return e.actor === systemActor ? null : { kind: 'request.decided', severity: 'info' };
    case 'RequestDenied':
    case 'RequestTimedOut':
      return { kind: 'request.decided', severity: 'info' };
    case 'GrantActivated':
      return { kind: 'grant.activated', severity: 'info' };
    case grantExpiringSoon:
      return { kind: 'grant.expiring', severity: 'warning' };
    case 'GrantExpired':
    case 'GrantRevoked':
      return { kind: 'grant.ended', severity: 'info' };
    case 'BreakGlassActivated':
      return { kind: 'breakglass', severity: 'critical' };
    case 'BreakGlassModeOn':
      return { kind: 'breakglass', severity: 'high' };
    case 'BreakGlassModeOff':
      return { kind: 'breakglass', severity: 'info' };
    case 'RequestRefused':
      return refusalKind(e.details) === 'guardrail' ? { kind: 'escalation.refused', severity: 'high' } : null;
    case 'TicketInvalidated':
      return { kind: 'ticket.invalidated', severity: 'warning' };
    case 'ReviewOverdue':
      return { kind: 'review.overdue', severity: 'warning' };
    default:
      return null;
  }
}

function refusalKind(details: Record<string, unknown>): unknown {
  const decision = details.decision as { refusal?: { kind?: unknown } } | undefined;
  return decision?.refusal?.kind;
}

/** One notice, as every channel renders it: a title, a line, labelled facts; buttons when it asks for a yes. */
export interface Notice {
  kind: NotificationKind;
  severity: Severity;
  /** The audit event it tells of: its seq and hash tie the notice to the trail. */
  event: { seq: number; hash: string; action: string; time: Date; actor: string };
  requestId: string | null;
  cluster: string | null;
  policy: string | null;
  requester: string | null;
  title: string;
  /** What happened, in a sentence. */
  summary: string;
  fields: [label: string, value: string][];
  /** A pending request: Approve/Deny where the channel can offer them. */
  approvable: boolean;
}

const str = (v: unknown): string | undefined =>
  typeof v === 'string' || typeof v === 'number' ? `${v}` : undefined;

function accessText(request: AccessRequest): string {
  return request.spec.targets.map(describeTarget).join('; ');
}

/** Builds the notice of an event of `kind`, with the request it is about when it has one. */
export function noticeFor(
  e: AuditEvent,
  kind: NotificationKind,
  severity: Severity,
  request: AccessRequest | null,
): Notice {
  const d = e.details;
  const who = request?.spec.requester ?? str(d.user) ?? e.actor;
  const fields: [string, string][] = [];
  const add = (label: string, value: string | undefined | null) => {
    if (value) fields.push([label, value]);
  };
  if (request) {
    add('Requester', request.spec.requester);
    add('Access', accessText(request));
    add('Duration', formatDuration(request.spec.durationMs));
    add('Reason', request.spec.reason);
    add('Ticket', request.spec.ticket);
    add('Policy', request.policy.name);
    add('Request', request.id);
  }
  const title = titleOf(e, kind, who, request);
  let summary = title;
  switch (kind) {
    case 'request.pending':
      summary = `${who} asks for ${request ? accessText(request) : 'access'}; it needs ${request?.policy.required ?? 1} approval(s) from ${approversText(request)}.`;
      add('Approve with', request ? `elevate approve ${request.id}` : undefined);
      break;
    case 'request.decided':
      add('Decided by', e.actor === systemActor ? 'Elevate' : e.actor);
      add('Comment', str(d.comment));
      break;
    case 'grant.activated':
    case 'grant.expiring':
      add('Expires', str(d.expiresAt) ?? request?.grant?.expiresAt.toISOString());
      add('Extend with', request ? `elevate extend ${request.id} --by 30m` : undefined);
      break;
    case 'grant.ended':
      add('Ended by', e.action === 'GrantRevoked' ? (str(d.by) ?? e.actor) : 'expiry');
      add('Why', str(d.reason));
      break;
    case 'escalation.refused':
      summary = `${who} asked for ${request ? accessText(request) : 'access'}; the guardrails refused: ${str((d.decision as { refusal?: { message?: string } })?.refusal?.message) ?? ''}`;
      break;
    default:
      add('Reason', request ? undefined : str(d.reason));
      add('Until', str(d.until));
      add('Ticket', request ? undefined : str(d.ticket));
      add('Due', str(d.dueAt));
  }
  return {
    kind,
    severity,
    event: { seq: e.seq, hash: e.hash, action: e.action, time: e.time, actor: e.actor },
    requestId: e.requestId,
    cluster: e.cluster,
    policy: request?.policy.name || null,
    requester: request?.spec.requester ?? null,
    title,
    summary,
    fields,
    approvable: kind === 'request.pending',
  };
}

function approversText(request: AccessRequest | null): string {
  if (!request) return 'its approvers';
  const { users, groups } = request.policy.approvers;
  return [...users, ...groups.map((g) => `group ${g}`)].join(', ') || 'its approvers';
}

function titleOf(e: AuditEvent, kind: NotificationKind, who: string, request: AccessRequest | null): string {
  const id = request ? ` (${request.id})` : '';
  switch (e.action) {
    case 'RequestCreated':
      return `Approval needed: ${who} asks for access${id}`;
    case 'RequestApproved':
      return `Approved: your request${id}`;
    case 'RequestDenied':
      return `Denied: your request${id}`;
    case 'RequestTimedOut':
      return `Timed out: your request${id} got no decision in time`;
    case 'GrantActivated':
      return `Active: your access${id} is granted`;
    case grantExpiringSoon:
      return `Expiring in ${str(e.details.in) ?? 'minutes'}: your access${id}`;
    case 'GrantExpired':
      return `Ended: your access${id} expired`;
    case 'GrantRevoked':
      return `Ended: your access${id} was revoked`;
    case 'BreakGlassActivated':
      return `BREAK-GLASS: ${e.actor} took emergency access${id}`;
    case 'BreakGlassModeOn':
      return `Break-glass mode ON by ${e.actor}`;
    case 'BreakGlassModeOff':
      return 'Break-glass mode off';
    case 'RequestRefused':
      return `Escalation refused: ${who}${id}`;
    case 'TicketInvalidated':
      return `Ticket no longer valid${id}`;
    case 'ReviewOverdue':
      return `Post-incident review overdue${id}`;
    default:
      return `${kind}: ${e.action}${id}`;
  }
}

/** A rule's filters, as the matcher reads them (the config's rule, without channel and recipients). */
export interface NoticeFilter {
  clusters?: string[];
  policies?: string[];
  minSeverity?: Severity;
}

/** Whether a rule's filters let the notice through: every filter given must hold. */
export function passesFilter(filter: NoticeFilter, notice: Notice, request: AccessRequest | null): boolean {
  if (filter.minSeverity && severities.indexOf(notice.severity) < severities.indexOf(filter.minSeverity))
    return false;
  if (filter.clusters) {
    const clusters = request
      ? request.spec.targets.map((t) => t.cluster)
      : notice.cluster
        ? [notice.cluster]
        : [];
    if (!clusters.some((c) => filter.clusters?.some((g) => globMatches(g, c)))) return false;
  }
  if (filter.policies) {
    const policy = notice.policy;
    if (!policy || !filter.policies.some((g) => globMatches(g, policy))) return false;
  }
  return true;
}
