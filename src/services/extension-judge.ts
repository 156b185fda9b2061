import type { AccessRequest } from '../domain/access-request.js';
import { formatDuration } from '../domain/duration.js';
import { Forbidden } from '../domain/errors.js';
import { decide } from '../domain/policy/decide.js';
import { gatherDecisionFacts } from './decision-facts.js';
import type { ExtensionJudge } from './extension-service.js';
import type { ClusterGateway, PolicySource, Store } from './ports.js';

export interface ExtensionJudgeDeps {
  clusters: Pick<ClusterGateway, 'namespaceLabels' | 'roleRules'>;
  store: Pick<Store, 'listRequests'>;
  policySource: PolicySource;
  now: () => Date;
}

/**
 * Judges an extension like a request, by the policy set in force and the facts read now, as if it asked
 * for the whole grant (its duration, every approved extension and this one): maxDuration counts the
 * whole, the limits hold (the grant itself not counted against them), and the policy that decides gives
 * the extension its own approvers and quorum. A refusal is Forbidden, naming why.
 */
export function createExtensionJudge(deps: ExtensionJudgeDeps): ExtensionJudge {
  return async (request: AccessRequest, totalDurationMs: number) => {
    const set = deps.policySource.current();
    const { spec } = request;
    const facts = await gatherDecisionFacts(deps, set, spec.requester, spec.targets, deps.now(), request.id);
    const decision = decide(
      set,
      {
        requester: spec.requester,
        groups: spec.requesterGroups,
        targets: spec.targets,
        profile: spec.profile,
        durationMs: totalDurationMs,
        ticket: spec.ticket,
      },
      facts,
    );
    if (decision.refusal) {
      const whole = `the grant would last ${formatDuration(totalDurationMs)} in all`;
      const field = decision.refusal.field === 'spec.duration' ? 'by' : undefined;
      throw new Forbidden(`${whole}: ${decision.refusal.message}`, field);
    }
    const policy = decision.policy?.name ?? '';
    if (decision.outcome === 'auto' || !decision.approval)
      return { decision: 'auto', policy, approval: null };
    const { approvers, required, timeoutMs, denyEnds, requireComment, requireMfa } = decision.approval;
    return {
      decision: 'approval',
      policy,
      approval: {
        approvers,
        required,
        timeoutMs,
        denyEnds,
        requireComment,
        ...(requireMfa ? { requireMfa } : {}),
      },
    };
  };
}
