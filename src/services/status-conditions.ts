import type { Phase } from '../domain/access-request.js';

/** A status condition as Kubernetes API conventions define it (metav1.Condition). */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

export type WantedCondition = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

/**
 * The conditions an object should show, each keeping its lastTransitionTime while its status stays the
 * same (the time says when it last changed, not when Elevate last looked), so that writing the same state
 * twice writes the same bytes and is skipped.
 */
export function settleConditions(
  previous: unknown,
  wanted: WantedCondition[],
  generation: number,
  now: Date,
): Condition[] {
  const before = Array.isArray(previous) ? (previous as Partial<Condition>[]) : [];
  return wanted.map((c) => {
    const was = before.find((p) => p.type === c.type);
    const since =
      was?.status === c.status && was.lastTransitionTime ? was.lastTransitionTime : now.toISOString();
    return { ...c, lastTransitionTime: since, observedGeneration: generation };
  });
}

/** Phases in which the request was approved (by a policy or by people), whatever came after. */
const approvedPhases: readonly Phase[] = ['Approved', 'Scheduled', 'Active', 'Expired', 'Revoked'];

/**
 * An AccessRequest's conditions: Approved (Unknown while people decide) and Active (True while the grant is
 * in effect), each with the phase as reason, so `kubectl wait --for=condition=Active` works.
 */
export function requestConditions(phase: Phase | 'Invalid', message: string): WantedCondition[] {
  const approved: WantedCondition =
    phase === 'Pending'
      ? { type: 'Approved', status: 'Unknown', reason: 'Pending', message }
      : approvedPhases.includes(phase as Phase)
        ? { type: 'Approved', status: 'True', reason: 'Approved', message: 'approved' }
        : { type: 'Approved', status: 'False', reason: phase, message };
  const active: WantedCondition =
    phase === 'Active'
      ? { type: 'Active', status: 'True', reason: 'Active', message }
      : { type: 'Active', status: 'False', reason: phase, message };
  return [approved, active];
}

/** An AccessApproval's one condition: whether it was applied to its request, and if not, why. */
export function approvalConditions(phase: 'Applied' | 'Refused', message: string): WantedCondition[] {
  return [{ type: 'Applied', status: phase === 'Applied' ? 'True' : 'False', reason: phase, message }];
}
