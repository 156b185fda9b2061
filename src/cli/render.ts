import { formatTraceEntry } from '../domain/policy/explain.js';
import type { AccessRequestResource } from '../http/resources.js';

type DecisionView = AccessRequestResource['status']['decision'];

/** Why a request was decided so: the outcome, every policy considered, the refusal and what was unknown. */
export function describeDecision(d: DecisionView): string[] {
  const by = d.policy ? ` by policy ${d.policy}${d.source ? ` (${d.source})` : ''}` : '';
  const lines = [`${d.outcome}${by}`];
  for (const t of d.trace) lines.push(`  ${formatTraceEntry({ ...t, source: t.source })}`);
  if (d.refusal) {
    const frees = d.refusal.freesAt ? ` (frees up at ${d.refusal.freesAt})` : '';
    lines.push(`  refused (${d.refusal.kind}): ${d.refusal.message}${frees}`);
  }
  if (d.requireMfa) lines.push('  the requester sends a one-time code (--otp) with the request');
  if (d.approvalRequiresMfa) lines.push('  each approver sends a one-time code (--otp) with their approval');
  for (const note of d.notes) lines.push(`  note: ${note}`);
  return lines;
}

/** Lays rows out in columns separated by three spaces, like kubectl get. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function age(from: string, now = Date.now()): string {
  const s = Math.round((now - Date.parse(from)) / 1000);
  if (s < 0) return `in ${humanSeconds(-s)}`;
  return humanSeconds(s);
}

function humanSeconds(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

type TargetView = AccessRequestResource['spec']['targets'][number];

const roleOf = (t: TargetView) => (t.roleKind === 'Role' ? `Role/${t.role}` : t.role);

/** One column's cell for a request's targets: the value when they share it, else the distinct values. */
function column(r: AccessRequestResource, pick: (t: TargetView) => string): string {
  return [...new Set(r.spec.targets.map(pick))].join(',');
}

export function requestTable(items: AccessRequestResource[]): string {
  return table(
    ['NAME', 'REQUESTER', 'CLUSTER', 'ROLE', 'NAMESPACE', 'DURATION', 'PHASE', 'EXPIRES', 'AGE'],
    items.map((r) => [
      r.metadata.name,
      r.spec.requester,
      column(r, (t) => t.cluster),
      column(r, roleOf),
      column(r, (t) => t.namespace ?? '*'),
      r.spec.duration,
      r.status.phase,
      r.status.grant && r.status.phase === 'Active' ? age(r.status.grant.expiresAt) : '',
      age(r.metadata.creationTimestamp),
    ]),
  );
}

export function describeRequest(r: AccessRequestResource): string {
  const lines: [string, string][] = [
    ['Name', r.metadata.name],
    ['Phase', r.status.phase],
    ['Message', r.status.message],
    ['Requester', r.spec.requester],
    ...(r.spec.profile ? [['Profile', r.spec.profile] as [string, string]] : []),
    ...r.spec.targets.map((t): [string, string] => [
      'Target',
      `${t.roleKind}/${t.role} ${t.namespace ? `in ${t.namespace}` : 'cluster-wide'} on ${t.cluster}`,
    ]),
    ['Duration', r.spec.duration],
    ['Reason', r.spec.reason],
    ['Ticket', r.spec.ticket ?? ''],
    ...(r.spec.startTime ? [['Start', r.spec.startTime] as [string, string]] : []),
    [
      'Policy',
      `${r.status.policy}${r.status.requiredApprovals ? ` (${r.status.requiredApprovals} approval(s))` : ''}`,
    ],
    ['Created', r.metadata.creationTimestamp],
  ];
  const [decided, ...why] = describeDecision(r.status.decision);
  lines.push(['Decision', decided ?? ''], ...why.map((w): [string, string] => ['', w.trim()]));
  if (r.status.approvalDeadline) lines.push(['Approval deadline', r.status.approvalDeadline]);
  for (const a of r.status.approvals) {
    lines.push([a.decision, `${a.user} at ${a.time}${a.comment ? ` — ${a.comment}` : ''}`]);
  }
  if (r.status.grant) {
    lines.push(['Activated', r.status.grant.activatedAt], ['Expires', r.status.grant.expiresAt]);
    for (const b of r.status.grant.bindings) {
      lines.push(['Binding', `${b.kind} ${b.namespace ? `${b.namespace}/` : ''}${b.name} on ${b.cluster}`]);
    }
  }
  for (const e of r.status.extensions) {
    const votes = e.approvals.map((a) => `${a.decision.toLowerCase()} by ${a.user}`).join(', ');
    const needs = e.state === 'Pending' ? `, needs ${e.requiredApprovals} approval(s)` : '';
    lines.push([
      `Extension ${e.id}`,
      `+${e.by} ${e.state} (policy ${e.policy}${needs}${votes ? `; ${votes}` : ''}) asked by ${e.requestedBy} at ${e.requestedAt}${e.reason ? ` — ${e.reason}` : ''}`,
    ]);
  }
  if (r.status.revocation) {
    lines.push([
      'Revoked by',
      `${r.status.revocation.by}${r.status.revocation.reason ? ` — ${r.status.revocation.reason}` : ''}`,
    ]);
  }
  const width = Math.max(...lines.map(([k]) => k.length)) + 1;
  // Continuation lines (a decision's trace) have no key: no stray colon, just the indent.
  return lines.map(([k, v]) => `${(k ? `${k}:` : '').padEnd(width)}  ${v}`).join('\n');
}
