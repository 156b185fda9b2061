import { type AccessRequest, grantPhases } from '../domain/access-request.js';
import type { DecisionFacts, PolicySet, UsageRecord } from '../domain/policy/types.js';
import { namespaceKey, type Target, targetKey } from '../domain/target.js';
import type { ClusterGateway, Store } from './ports.js';

export interface DecisionFactsDeps {
  clusters: Pick<ClusterGateway, 'namespaceLabels' | 'roleRules'>;
  store: Pick<Store, 'listRequests'>;
}

function usageOf(r: AccessRequest, live: boolean): UsageRecord {
  return {
    requestId: r.id,
    requester: r.spec.requester,
    policy: r.policy.name,
    targets: r.spec.targets,
    live,
    endsAt: live ? (r.grant?.expiresAt ?? null) : null,
    endedAt: live ? null : r.updatedAt,
  };
}

/**
 * What the engine needs to know about the world to judge a request, read now: every target's namespace
 * labels and role rules from its cluster (null where they do not exist), the grants live now, and the
 * requester's grants that ended recently enough for a cooldown to still run.
 */
export async function gatherDecisionFacts(
  deps: DecisionFactsDeps,
  set: PolicySet,
  requester: string,
  targets: Target[],
  now: Date,
  /** A request judged again (an extension) does not count against itself. */
  exceptRequestId?: string,
): Promise<DecisionFacts> {
  const namespaceLabels = new Map<string, Record<string, string> | null>();
  const roleRules = new Map<string, Awaited<ReturnType<ClusterGateway['roleRules']>>>();
  await Promise.all(
    targets.map(async (t) => {
      if (t.namespace !== null) {
        namespaceLabels.set(
          namespaceKey(t.cluster, t.namespace),
          await deps.clusters.namespaceLabels(t.cluster, t.namespace),
        );
      }
      roleRules.set(targetKey(t), await deps.clusters.roleRules(t.cluster, t.roleKind, t.role, t.namespace));
    }),
  );
  const usage = await gatherUsage(deps, set, requester, now, exceptRequestId);
  return { now, namespaceLabels, roleRules, usage };
}

/** Whether any limit or cooldown is set: only then does a decision depend on the grants live now. */
export function hasLimits(set: PolicySet): boolean {
  const { maxActive, maxActivePerUser } = set.limits;
  return (
    maxActive !== undefined ||
    maxActivePerUser !== undefined ||
    set.policies.some(
      (p) => p.maxActive !== undefined || p.maxActivePerUser !== undefined || p.cooldownMs !== undefined,
    )
  );
}

/**
 * The grants that count toward limits and cooldowns: every live one, and the requester's that ended
 * recently enough for a cooldown to still run. Nothing is read when the set has no limits.
 */
export async function gatherUsage(
  deps: Pick<DecisionFactsDeps, 'store'>,
  set: PolicySet,
  requester: string,
  now: Date,
  exceptRequestId?: string,
): Promise<UsageRecord[]> {
  if (!hasLimits(set)) return [];
  const longestCooldown = Math.max(0, ...set.policies.map((p) => p.cooldownMs ?? 0));
  const [live, ended] = await Promise.all([
    deps.store.listRequests({ phases: [...grantPhases] }),
    longestCooldown > 0
      ? deps.store.listRequests({ requester, phases: ['Expired', 'Revoked'] })
      : Promise.resolve([]),
  ]);
  const since = now.getTime() - longestCooldown;
  return [
    ...live.map((r) => usageOf(r, true)),
    ...ended.filter((r) => r.updatedAt.getTime() >= since).map((r) => usageOf(r, false)),
  ].filter((u) => u.requestId !== exceptRequestId);
}
