import type { AccessRequest } from '../domain/access-request.js';
import type { Clock } from '../domain/clock.js';
import { mechanismOf } from '../domain/grant-mechanism.js';
import type { RoleRule } from '../domain/policy/types.js';
import { type RequestAttributes, rulesAllow } from '../domain/rbac/rule-evaluation.js';
import { describeTarget, type Target } from '../domain/target.js';
import type { ClusterGateway, Store } from './ports.js';

export interface WebhookAuthorizerDeps {
  store: Pick<Store, 'listRequests'>;
  clusters: Pick<ClusterGateway, 'roleRules'>;
  clock: Clock;
  onError: (error: Error) => void;
}

/** One target of an Active webhook grant, with its role's rules as last read from the cluster. */
interface IndexedTarget {
  requestId: string;
  target: Target;
  expiresAt: number;
  rules: readonly RoleRule[];
}

/** The answer to a SubjectAccessReview: allowed with the grant that allows it, or no opinion. */
export type WebhookDecision = { allowed: true; reason: string } | { allowed: false };

const noOpinion: WebhookDecision = { allowed: false };

/** The user name the cluster's API server gives the grant's subject (as bindings name it). */
function userOf(request: AccessRequest, cluster: string): string {
  const s = request.spec.subjects?.[cluster];
  if (!s) return request.spec.requester;
  return s.kind === 'User' ? s.name : `system:serviceaccount:${s.namespace}:${s.name}`;
}

/**
 * Answers a cluster's authorization webhook from memory: no database read and no cluster call on the hot
 * path, only a map lookup by cluster and user and the RBAC rule evaluation of that user's webhook grants.
 * A grant is allowed until the millisecond of its expiresAt (whether or not the scheduler has run yet) and
 * not after a revocation is asked for; anything else is no opinion, so the cluster's own RBAC decides.
 *
 * The index follows every change this server saves (track), and reads the live webhook grants again
 * every second (refresh), for the changes other servers on the same database make. Roles' rules are read
 * when a grant enters the index and again at each refresh, so an edited role counts within a second.
 */
export function createWebhookAuthorizer(deps: WebhookAuthorizerDeps) {
  /** cluster → user → targets. Replaced whole, never mutated: a lookup always sees one consistent index. */
  let index = new Map<string, Map<string, IndexedTarget[]>>();
  /** The live webhook grants by id, as last seen. */
  const grants = new Map<string, AccessRequest>();
  /** Role rules by cluster/kind/namespace/name, as last read. */
  const rules = new Map<string, readonly RoleRule[]>();
  const ruleKey = (cluster: string, t: Target) => `${cluster}/${t.roleKind}/${t.namespace ?? ''}/${t.role}`;

  const isLive = (r: AccessRequest) =>
    mechanismOf(r) === 'webhook' && r.phase === 'Active' && r.grant !== null && r.revocation === null;

  function rebuild(): void {
    const next = new Map<string, Map<string, IndexedTarget[]>>();
    for (const r of grants.values()) {
      const expiresAt = r.grant?.expiresAt.getTime() ?? 0;
      for (const target of r.spec.targets) {
        const roleRules = rules.get(ruleKey(target.cluster, target));
        if (!roleRules) continue;
        const users = next.get(target.cluster) ?? new Map<string, IndexedTarget[]>();
        next.set(target.cluster, users);
        const user = userOf(r, target.cluster);
        const list = users.get(user) ?? [];
        list.push({ requestId: r.id, target, expiresAt, rules: roleRules });
        users.set(user, list);
      }
    }
    index = next;
  }

  async function readRules(r: AccessRequest): Promise<void> {
    for (const t of r.spec.targets) {
      const found = await deps.clusters.roleRules(t.cluster, t.roleKind, t.role, t.namespace);
      // A role deleted meanwhile grants nothing, as RBAC would have it.
      rules.set(ruleKey(t.cluster, t), found ?? []);
    }
  }

  return {
    /**
     * A role's rules as someone just read them (the grant service, judging the guardrails right before a
     * grant turns Active): the index can take the grant the moment it is saved Active.
     */
    noteRules(cluster: string, target: Target, found: readonly RoleRule[] | null): void {
      rules.set(ruleKey(cluster, target), found ?? []);
    },

    /**
     * A request saved on this server: out of the index at once when it ends or a revocation is asked for;
     * in at once when it turns Active, its roles' rules having been read while it was being approved
     * (read again meanwhile, for a role edited since).
     */
    async track(r: AccessRequest): Promise<void> {
      if (mechanismOf(r) !== 'webhook') return;
      const known = r.spec.targets.every((t) => rules.has(ruleKey(t.cluster, t)));
      if (!isLive(r)) {
        if (grants.delete(r.id)) rebuild();
        if (r.phase !== 'Approved' && r.phase !== 'Scheduled') return;
      } else {
        grants.set(r.id, r);
        if (known) rebuild();
      }
      try {
        await readRules(r);
      } catch (e) {
        deps.onError(e as Error);
      }
      if (isLive(r) && grants.get(r.id) === r) rebuild();
    },

    /** Reads the live webhook grants and their roles' rules again. */
    async refresh(): Promise<void> {
      const live = (await deps.store.listRequests({ phases: ['Active'] })).filter(isLive);
      for (const r of live) {
        try {
          await readRules(r);
        } catch (e) {
          deps.onError(e as Error);
        }
      }
      grants.clear();
      for (const r of live) grants.set(r.id, r);
      rebuild();
    },

    authorize(cluster: string, user: string, attributes: RequestAttributes): WebhookDecision {
      const targets = index.get(cluster)?.get(user);
      if (!targets) return noOpinion;
      const now = deps.clock.now().getTime();
      for (const t of targets) {
        if (t.expiresAt <= now) continue;
        if (rulesAllow(t.rules, attributes, { namespace: t.target.namespace })) {
          return { allowed: true, reason: `Elevate grant ${t.requestId}: ${describeTarget(t.target)}` };
        }
      }
      return noOpinion;
    },
  };
}
export type WebhookAuthorizer = ReturnType<typeof createWebhookAuthorizer>;
