/**
 * The policy engine's one entry point. Pure: the world comes in as facts, the answer goes out as data,
 * and a refusal is an outcome, not an exception, so the service can record and explain it like any other.
 *
 * Order: guardrails that need no policy (cluster-admin, forbidden roles) → first matching policy, every
 * target included, building the trace → a deny policy → role-rule guardrails and existence per target →
 * the policy's constraints (duration, ticket) → limits (cooldown, live-grant counts) → auto or approval.
 */
import { describeTarget, namespaceKey, type Target, targetKey } from '../target.js';
import { type CompiledPolicy, compileSet } from './compiled-policy.js';
import { checkConstraints, effectiveDuration } from './constraints.js';
import { checkGuardrails } from './guardrails.js';
import { checkLimits } from './limits.js';
import {
  contextFor,
  type MatchContext,
  matchCompiled,
  type TargetFailure,
  targetFailure,
} from './matching.js';
import { fitTicketWindow } from './ticket-check.js';
import type {
  Decision,
  DecisionFacts,
  DecisionInput,
  Policy,
  PolicySet,
  Refusal,
  TraceEntry,
} from './types.js';
import { whoAllowed } from './who-index.js';

function refused(
  refusal: Refusal,
  policy: Policy | null,
  trace: TraceEntry[],
  durationMs: number,
  notes: Set<string>,
): Decision {
  return {
    outcome: 'refused',
    policy: policy === null ? null : { name: policy.name, source: policy.source },
    refusal,
    trace,
    durationMs,
    approval: null,
    notes: [...notes],
  };
}

/**
 * Why nothing matched, naming the target that kept the closest policy from matching: the one that allowed
 * the most targets of the request (the first such, in order).
 */
function noMatchMessage(candidates: CompiledPolicy[], ctx: MatchContext): string {
  const { input } = ctx;
  const targets = input.targets;
  const profile = input.profile === null ? '' : ` of profile ${input.profile}`;
  if (targets.length === 1) {
    return `no policy allows ${input.requester} to request ${describeTarget(targets[0] as Target)}${profile}`;
  }
  let best: { policy: Policy; failures: [Target, TargetFailure][] } | null = null;
  for (const c of candidates) {
    const failures: [Target, TargetFailure][] = [];
    for (const t of targets) {
      const f = targetFailure(c, t, ctx);
      if (f !== null) failures.push([t, f]);
    }
    if (failures.length < targets.length && (best === null || failures.length < best.failures.length)) {
      best = { policy: c.policy, failures };
    }
  }
  const head = `no policy allows ${input.requester} all ${targets.length} targets${profile}`;
  if (best === null) return head;
  const allowed = targets.length - best.failures.length;
  const others = best.failures.length === 1 ? 'the others' : `${allowed} of them`;
  const not = best.failures.map(([t, f]) => `${describeTarget(t)} (${f.matcher})`).join(' nor ');
  return `${head}: policy ${best.policy.name} allows ${others} but not ${not}`;
}

/** Existence and role rules of each target, judged with the matched policy's allowEscalatingRoles. */
function checkTargets(
  set: PolicySet,
  policy: Policy,
  input: DecisionInput,
  ctx: MatchContext,
): Refusal | null {
  const { facts, notes } = ctx;
  for (const t of input.targets) {
    if (t.namespace !== null && facts.namespaceLabels?.get(namespaceKey(t.cluster, t.namespace)) === null) {
      return {
        kind: 'constraint',
        field: 'spec.namespace',
        message: `namespace ${t.namespace} does not exist on cluster ${t.cluster}`,
      };
    }
    const rules = facts.roleRules?.get(targetKey(t));
    if (rules === undefined) {
      notes.add(
        `rules of ${t.roleKind} ${t.role} on cluster ${t.cluster} unknown (offline): not checked for escalation`,
      );
    }
    const r = checkGuardrails(set.guardrails, policy, t, rules);
    if (r !== null) return r;
  }
  return null;
}

/** A policy may grant only as every target's cluster offers (clusters[].grants; bindings by default). */
function checkMechanism(set: PolicySet, policy: Policy, input: DecisionInput): Refusal | null {
  const mechanism = policy.grant ?? 'binding';
  for (const t of input.targets) {
    const offered = set.clusterGrants?.[t.cluster]?.mechanisms ?? ['binding'];
    if (!offered.includes(mechanism)) {
      return {
        kind: 'constraint',
        message: `policy ${policy.name} grants by ${mechanism}, which cluster ${t.cluster} does not offer (it offers ${offered.join(', ')})`,
      };
    }
  }
  return null;
}

export function decide(set: PolicySet, input: DecisionInput, facts: DecisionFacts): Decision {
  const requested = input.durationMs ?? 0;
  if (input.targets.length === 0) {
    const refusal: Refusal = {
      kind: 'constraint',
      field: 'spec.targets',
      message: 'the request names no target',
    };
    return refused(refusal, null, [], requested, new Set());
  }
  for (const t of input.targets) {
    const r = checkGuardrails(set.guardrails, null, t, undefined);
    if (r !== null) return refused(r, null, [], requested, new Set());
  }

  const compiled = compileSet(set);
  const ctx = contextFor(compiled, set, input, facts);
  const policies = compiled.policies;
  // Policies that failed only on a target: the candidates for "allows the others but not …".
  const partial: CompiledPolicy[] = [];
  const judgedAt: number[] = [];
  const judged: TraceEntry[] = [];
  let matched: CompiledPolicy | null = null;
  // Most policies fail on who; only the others are judged in full, and the rest of the trace is their
  // shared who-failure entries, copied in one slice.
  const whoOk = whoAllowed(compiled.who, input.requester, input.groups);
  // Read four policies' bytes at a time: most words are zero, as most policies are for other people.
  const words = compiled.who.scratchWords;
  for (let i = 0; i < policies.length; i++) {
    if ((i & 3) === 0 && words[i >> 2] === 0) {
      i += 3;
      continue;
    }
    if (whoOk[i] === 0) continue;
    const c = policies[i] as CompiledPolicy;
    const entry = matchCompiled(c, true, ctx);
    judgedAt.push(i);
    judged.push(entry);
    if (entry.result === 'matched') {
      matched = c;
      break;
    }
    if (entry.target !== undefined) partial.push(c);
  }
  const trace = compiled.whoFailures.slice(0, matched === null ? policies.length : matched.index + 1);
  for (let k = 0; k < judged.length; k++) trace[judgedAt[k] as number] = judged[k] as TraceEntry;
  if (matched === null) {
    const message = noMatchMessage(partial, ctx);
    return refused({ kind: 'no-match', message }, null, trace, requested, ctx.notes);
  }

  const policy = matched.policy;
  const durationMs = effectiveDuration(policy, input, set.limits);
  if (policy.decision === 'deny') {
    const refusal: Refusal = { kind: 'policy', message: policy.message ?? `denied by policy ${policy.name}` };
    return refused(refusal, policy, trace, durationMs, ctx.notes);
  }
  const refusal =
    checkMechanism(set, policy, input) ??
    checkTargets(set, policy, input, ctx) ??
    checkConstraints(policy, input, set.limits, facts, ctx.notes) ??
    checkLimits(policy, input, set.limits, facts.usage, facts.now);
  if (refusal !== null) return refused(refusal, policy, trace, durationMs, ctx.notes);
  const fitted = fitTicketWindow(durationMs, input, facts, set.limits, ctx.notes);
  if ('refusal' in fitted) return refused(fitted.refusal, policy, trace, durationMs, ctx.notes);
  return {
    outcome: policy.decision,
    policy: { name: policy.name, source: policy.source },
    refusal: null,
    trace,
    durationMs: fitted.durationMs,
    approval: policy.decision === 'approval' ? (policy.approval ?? null) : null,
    ...(policy.grant !== undefined && policy.grant !== 'binding' ? { mechanism: policy.grant } : {}),
    ...(policy.requireMfa ? { requireMfa: true } : {}),
    ...(policy.decision === 'approval' && policy.approval?.requireMfa ? { approvalRequiresMfa: true } : {}),
    notes: [...ctx.notes],
  };
}
