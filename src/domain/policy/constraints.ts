/**
 * What the matched policy and the global limits demand of the request itself: its duration and a ticket
 * (ticket-check.ts).
 * Each refusal names the bound and where it comes from (the policy's field or `limits.…`), so the requester
 * knows what to change. Room under cooldowns and live-grant limits is limits.ts.
 */
import { formatDuration } from '../duration.js';
import { checkTicket } from './ticket-check.js';
import type { DecisionFacts, DecisionInput, Limits, Policy, Refusal } from './types.js';

/**
 * The request's duration, or the policy's default. A policy without a default grants its maxDuration, but
 * never more than limits.maxDuration: leaving --duration out should not get a request refused.
 */
export function effectiveDuration(policy: Policy, input: DecisionInput, limits: Limits): number {
  if (input.durationMs !== null) return input.durationMs;
  return policy.defaultDurationMs ?? Math.min(policy.maxDurationMs, limits.maxDurationMs);
}

const durationRefusal = (message: string): Refusal => ({
  kind: 'constraint',
  field: 'spec.duration',
  message,
});

export function checkDuration(policy: Policy, input: DecisionInput, limits: Limits): Refusal | null {
  const ms = effectiveDuration(policy, input, limits);
  const what =
    input.durationMs === null
      ? `the default duration ${formatDuration(ms)} of policy ${policy.name} (defaultDuration)`
      : `duration ${formatDuration(ms)}`;
  if (ms > policy.maxDurationMs) {
    return durationRefusal(
      `${what} exceeds the maximum ${formatDuration(policy.maxDurationMs)} of policy ${policy.name} (maxDuration)`,
    );
  }
  if (ms < limits.minDurationMs) {
    return durationRefusal(
      `${what} is below the minimum ${formatDuration(limits.minDurationMs)} (limits.minDuration)`,
    );
  }
  if (ms > limits.maxDurationMs) {
    return durationRefusal(
      `${what} exceeds the maximum ${formatDuration(limits.maxDurationMs)} (limits.maxDuration)`,
    );
  }
  return null;
}

export function checkConstraints(
  policy: Policy,
  input: DecisionInput,
  limits: Limits,
  facts: Pick<DecisionFacts, 'now' | 'ticket'>,
  notes: Set<string>,
): Refusal | null {
  return checkDuration(policy, input, limits) ?? checkTicket(policy, input, facts, notes);
}

// Limits used to live here; services import them from this file.
export { checkLimits } from './limits.js';
export { checkTicket } from './ticket-check.js';
