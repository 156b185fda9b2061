/**
 * A decision the way people read it (`elevate get`, `elevate policy explain`): the outcome and the policy
 * that decided, then every policy considered with the first matcher that failed, then the refusal and what
 * could not be judged. Plain text, one fact per line, so it pastes cleanly into a ticket.
 */
import { formatDuration } from '../duration.js';
import { describeTarget } from '../target.js';
import type { ApprovalRule, Decision, TraceEntry } from './types.js';

const list = (items: readonly string[]) => `[${items.join(', ')}]`;

function approvers(a: ApprovalRule): string {
  const who: string[] = [];
  if (a.approvers.users.length > 0) who.push(`users ${list(a.approvers.users)}`);
  if (a.approvers.groups.length > 0) who.push(`groups ${list(a.approvers.groups)}`);
  const n = a.required === 1 ? '1 approval' : `${a.required} approvals`;
  return `${n} from ${who.join(' or ') || 'nobody'} within ${formatDuration(a.timeoutMs)}`;
}

function headline(d: Decision): string {
  const by = d.policy === null ? '' : ` by policy ${d.policy.name} (${d.policy.source})`;
  if (d.outcome === 'refused') return `refused${by}`;
  const duration = `for ${formatDuration(d.durationMs)}`;
  if (d.outcome === 'auto') return `allowed${by} ${duration}, no approval needed`;
  return `needs approval${by} ${duration}: ${d.approval ? approvers(d.approval) : 'approvers unknown'}`;
}

export function formatTraceEntry(e: TraceEntry): string {
  const head = `policy ${e.policy} (${e.source})`;
  if (e.result === 'matched') return `✓ ${head}: matched`;
  const target = e.target === undefined ? '' : ` [${describeTarget(e.target)}]`;
  return `✗ ${head}: ${e.matcher} — ${e.reason}${target}`;
}

export function formatDecision(decision: Decision): string {
  const lines = [headline(decision)];
  if (decision.trace.length > 0) {
    lines.push('policies considered, in order:');
    for (const e of decision.trace) lines.push(`  ${formatTraceEntry(e)}`);
  }
  const r = decision.refusal;
  if (r !== null) {
    const field = r.field === undefined ? '' : ` (${r.field})`;
    lines.push(`refusal [${r.kind}]${field}: ${r.message}`);
  }
  for (const n of decision.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
