import type { AccessRequest } from './access-request.js';
import { type ActivityRecord, describeAction } from './activity.js';
import type { AuditEvent } from './audit-event.js';
import type { Review } from './breakglass.js';
import { formatDuration } from './duration.js';
import { describeTarget } from './target.js';

/** Everything a post-incident or compliance review of one grant needs, in one document. */
export interface GrantReport {
  request: AccessRequest;
  /** The request's audit events, oldest first. */
  timeline: AuditEvent[];
  activity: { count: number; items: ActivityRecord[] };
  review: Review | null;
  generatedAt: Date;
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : '—');
/** A table cell: one line, pipes escaped, so a reason or a comment cannot break the table. */
const cell = (text: unknown) =>
  String(text ?? '')
    .replace(/\r?\n/g, ' ')
    .replaceAll('|', '\\|');

function table(headers: string[], rows: unknown[][]): string[] {
  return [
    `| ${headers.join(' | ')} |`,
    `|${headers.map(() => ' --- ').join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
}

function howItEnded(r: AccessRequest): string {
  if (r.phase === 'Active') return 'still active when this report was made';
  return `${r.phase}: ${r.message}`;
}

/** The report as Markdown: who asked, why, decision and trace, approvals, timeline, actions, ending, review. */
export function reportMarkdown({ request: r, timeline, activity, review, generatedAt }: GrantReport): string {
  const decision = r.policy.explanation;
  const lines = [
    `# Access report: ${r.id}`,
    '',
    `Generated ${generatedAt.toISOString()} by Elevate.`,
    '',
    '## Request',
    '',
    ...table(
      ['', ''],
      [
        ['Requester', `${r.spec.requester}${r.spec.requestedBy ? ` (asked by ${r.spec.requestedBy})` : ''}`],
        ['Access', r.spec.targets.map(describeTarget).join('; ')],
        ['Duration asked', formatDuration(r.spec.durationMs)],
        ['Reason', r.spec.reason],
        ['Ticket', r.spec.ticket ?? '—'],
        ['Asked at', iso(r.createdAt)],
        ['Emergency', r.emergency ? r.emergency.kind : 'no'],
      ],
    ),
    '',
    '## Decision',
    '',
    `Policy: ${r.policy.name || '(none)'}, ${r.policy.decision}${r.policy.decision === 'approval' ? ` (${r.policy.required} approver(s) needed)` : ''}.`,
    ...(decision?.notes?.length ? ['', ...decision.notes.map((n) => `- ${n}`)] : []),
    ...(decision?.trace?.length
      ? [
          '',
          ...table(
            ['Policy', 'Result', 'Why'],
            decision.trace.map((t) => [t.policy, t.result, t.reason ?? '']),
          ),
        ]
      : []),
    ...(r.ticket
      ? [
          '',
          `Ticket ${r.ticket.id} in ${r.ticket.provider}: ${r.ticket.status}, checked ${iso(r.ticket.checkedAt)}.`,
        ]
      : []),
    '',
    '## Approvals',
    '',
    ...(r.approvals.length === 0
      ? ['None.']
      : table(
          ['Who', 'Decision', 'At', 'Comment'],
          r.approvals.map((a) => [a.user, a.decision, iso(a.at), a.comment ?? '']),
        )),
    '',
    '## Grant',
    '',
    r.grant
      ? `Active from ${iso(r.grant.activatedAt)} until ${iso(r.grant.expiresAt)}; bindings: ${r.grant.bindings.map((b) => `${b.kind} ${b.namespace ? `${b.namespace}/` : ''}${b.name} on ${b.cluster}`).join(', ')}.`
      : 'Never active.',
    '',
    `Ended: ${howItEnded(r)}.`,
    '',
    `## Actions taken under the grant (${activity.count})`,
    '',
    ...(activity.count === 0
      ? ['None recorded.']
      : [
          ...table(
            ['Time', 'User', 'Action', 'Code', 'Allowed by this grant', 'Source'],
            activity.items.map((a) => [
              iso(a.time),
              a.user,
              describeAction(a),
              a.code ?? '',
              a.viaGrant ? 'yes' : 'no',
              `${a.sourceIps.join(', ')} ${a.userAgent ?? ''}`.trim(),
            ]),
          ),
          ...(activity.count > activity.items.length
            ? [
                '',
                `(${activity.count - activity.items.length} more not shown: elevate activity ${r.id} -o json)`,
              ]
            : []),
        ]),
    '',
    '## Timeline',
    '',
    ...table(
      ['Seq', 'Time', 'Actor', 'Event'],
      timeline.map((e) => [e.seq, iso(e.time), e.actor, e.action]),
    ),
    '',
    '## Review',
    '',
    review
      ? `Review ${review.id} (${review.kind}): ${review.state}${review.outcome ? `, ${review.outcome}` : ''}; due ${iso(review.dueAt)}${review.completedBy ? `; completed by ${review.completedBy} at ${iso(review.completedAt)}` : ''}${review.notes ? `. Notes: ${review.notes}` : ''}.`
      : 'No post-incident review (not an emergency grant).',
    '',
  ];
  return lines.join('\n');
}
