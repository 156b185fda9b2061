import type { AccessRequest } from '../domain/access-request.js';
import { formatDuration } from '../domain/duration.js';
import { Forbidden } from '../domain/errors.js';
import {
  checkDurationLimits,
  type DurationLimits,
  decide,
  type Guardrails,
  type Policy,
} from '../domain/policy.js';
import { describeTarget, type Target } from '../domain/target.js';
import type { ExtensionJudge } from './extension-service.js';

/**
 * Judges an extension with the first policy engine, target by target as a request with the whole grant's
 * duration: every target must fall under one policy, and neither limits.maxDuration nor the policy's
 * maxDuration may be passed. A stand-in until extensions are judged by the policy set in force.
 */
export function createFirstEngineExtensionJudge(config: {
  policies: Policy[];
  guardrails: Guardrails;
  limits: DurationLimits;
}): ExtensionJudge {
  return async (request: AccessRequest, totalDurationMs: number) => {
    const spec = { ...request.spec, durationMs: totalDurationMs };
    try {
      checkDurationLimits(totalDurationMs, config.limits);
    } catch (e) {
      throw new Forbidden(
        `the grant would last ${formatDuration(totalDurationMs)} in all: ${(e as Error).message}`,
        'by',
      );
    }
    const outcomes = spec.targets.map((t) => decide(config.policies, config.guardrails, { ...spec, ...t }));
    const first = outcomes[0] as (typeof outcomes)[number];
    outcomes.forEach((o, i) => {
      if (o.policy.name !== first.policy.name) {
        throw new Forbidden(
          `${describeTarget(spec.targets[i] as Target)} falls under policy ${o.policy.name}, the others under ${first.policy.name}`,
        );
      }
    });
    if (first.decision === 'auto') return { decision: 'auto', policy: first.policy.name, approval: null };
    const { approvers, required, timeoutMs } = first.policy.approval;
    return {
      decision: 'approval',
      policy: first.policy.name,
      approval: { approvers, required, timeoutMs, denyEnds: true, requireComment: false },
    };
  };
}
