import { type AccessRequest, isDueForRemoval } from '../domain/access-request.js';
import { type AuditEventInput, systemActor } from '../domain/audit-event.js';
import { bindingKey, type DesiredBinding, desiredBindings, grantsSameAccess } from '../domain/binding.js';
import type { Clock } from '../domain/clock.js';
import { bindingsOf, type GrantService, isBindingOf } from '../services/grant-service.js';
import type { BindingEventType, ClusterGateway, ManagedBinding, Store } from '../services/ports.js';
import { type AccountDriftDeps, createAccountDrift } from './account-drift.js';

export interface DriftPassDeps extends Omit<AccountDriftDeps, 'clusters' | 'grants'> {
  store: Pick<Store, 'listRequests' | 'appendAudit' | 'getRequest'>;
  clusters: Pick<ClusterGateway, 'listManagedBindings' | 'listManagedServiceAccounts'>;
  grants: Pick<
    GrantService,
    'restoreBinding' | 'removeOrphan' | 'isRemoving' | 'restoreAccount' | 'removeOrphanAccount'
  >;
  clock: Clock;
  /** One repair failed; the others go on, and the pass reports it in `failed`. */
  onError: (cluster: string, error: Error) => void;
  onRepair: (event: AuditEventInput) => void;
}

export interface DriftReport {
  cluster: string;
  restored: number;
  corrected: number;
  /** Labelled bindings no live request stands behind. */
  removed: number;
  /** Labelled bindings naming a live request that does not want them. */
  forgedRemoved: number;
  /** Grants ended because their namespace was deleted, or a guardrail now refuses their role. */
  ended: number;
  /** Credential grants' ServiceAccounts made again, and labelled ones no live grant stood behind removed. */
  accountsRestored: number;
  accountsRemoved: number;
  /** Repairs that failed this pass; each is tried again by the next. */
  failed: number;
}

/** The request, if any, whose binding this is: one of the bindings (cluster included) it stands behind. */
function ownerOf(request: AccessRequest | null, binding: ManagedBinding) {
  return request && isBindingOf(request, binding.ref) ? request : null;
}

/** What the request wants written under the binding's name (who and what it grants). */
function desiredFor(request: AccessRequest, ref: ManagedBinding['ref']): DesiredBinding | undefined {
  return desiredBindings(request, null).find((b) => bindingKey(b.ref) === bindingKey(ref));
}

/** Whether the binding found grants exactly what the request wants under that name. */
function grantsWanted(request: AccessRequest, found: ManagedBinding): boolean {
  const desired = desiredFor(request, found.ref);
  return desired !== undefined && grantsSameAccess(found, desired);
}

/**
 * One drift pass over one cluster: a missing binding of an active grant is written again, one that grants
 * something else is corrected, and every other binding carrying Elevate's label is removed — whether no
 * live request stands behind it (an orphan) or it names a live request that never wanted it (a forgery).
 * Every repair is audited, and each fails on its own.
 */
export function createDriftPass(deps: DriftPassDeps) {
  const { store, clusters, grants, clock } = deps;
  const accountDrift = createAccountDrift(deps);
  const audit = (action: string, cluster: string, requestId: string | null, details: object) =>
    ({ time: clock.now(), actor: systemActor, action, requestId, cluster, details }) as AuditEventInput;

  /**
   * Whether a watched change is one Elevate expects (its own writes and removals), so it needs no pass.
   * Anything else — an active grant's binding deleted or altered, a labelled binding nobody stands behind
   * — does.
   */
  async function isExpected(type: BindingEventType, binding: ManagedBinding) {
    // The grant service's own removals, a whole burst of expiries at once: no store read for each. Its
    // request being due for removal, the read below would answer the same.
    if (type === 'DELETED' && binding.requestId && grants.isRemoving(binding.requestId)) return true;
    const request = binding.requestId ? await store.getRequest(binding.requestId) : null;
    const owner = ownerOf(request, binding);
    // Not a binding any request of this cluster stands behind: it is to be removed, and its removal is fine.
    if (!owner) return type === 'DELETED';
    const settling = owner.phase === 'Approved' || isDueForRemoval(owner, clock.now());
    const active = owner.phase === 'Active' && !settling;
    if (type === 'DELETED') return !active;
    // The grant service is writing or removing it; a binding of an ended grant is to be removed.
    if (!active) return settling;
    return grantsWanted(owner, binding);
  }

  /** Each repair is audited as soon as it is made, so a crash mid-pass loses no record. */
  async function record(event: AuditEventInput): Promise<void> {
    await store.appendAudit([event]);
    deps.onRepair(event);
  }

  async function restore(
    cluster: string,
    request: AccessRequest,
    ref: ManagedBinding['ref'],
    found: ManagedBinding | undefined,
  ) {
    const outcome = await grants.restoreBinding(request.id, ref);
    if (outcome !== 'created' && outcome !== 'updated') return outcome;
    await record(
      audit(outcome === 'updated' ? 'BindingCorrected' : 'BindingRestored', cluster, request.id, {
        binding: ref,
        ...(found ? { found: { roleRef: found.roleRef, subjects: found.subjects } } : {}),
      }),
    );
    return outcome;
  }

  async function remove(cluster: string, binding: ManagedBinding) {
    const outcome = await grants.removeOrphan(cluster, binding);
    if (outcome !== 'orphan' && outcome !== 'forged') return outcome;
    const action = outcome === 'forged' ? 'ForgedBindingRemoved' : 'OrphanBindingRemoved';
    const { ref, roleRef, subjects } = binding;
    await record(audit(action, cluster, binding.requestId, { binding: ref, roleRef, subjects }));
    return outcome;
  }

  async function reconcileCluster(cluster: string): Promise<DriftReport> {
    // Bindings first, requests second: a binding created in between belongs to a request already live
    // when the requests are read, so it is never mistaken for an orphan.
    const actual = await clusters.listManagedBindings(cluster);
    const accounts = await accountDrift.list(cluster);
    const now = clock.now();
    const requests = (await store.listRequests({ phases: ['Approved', 'Active'] })).filter((r) =>
      r.spec.targets.some((t) => t.cluster === cluster),
    );
    // Being activated or removed: the grant service writes or deletes these requests' own bindings.
    const settlingKeys = new Set<string>();
    const wanted = new Map<string, { request: AccessRequest; ref: ManagedBinding['ref'] }>();
    for (const r of requests) {
      const settling = r.phase === 'Approved' || isDueForRemoval(r, now);
      for (const ref of bindingsOf(r).filter((b) => b.cluster === cluster)) {
        if (settling) settlingKeys.add(bindingKey(ref));
        else wanted.set(bindingKey(ref), { request: r, ref });
      }
    }
    const actualByKey = new Map(actual.map((b) => [bindingKey(b.ref), b]));
    const report: DriftReport = {
      cluster,
      restored: 0,
      corrected: 0,
      removed: 0,
      forgedRemoved: 0,
      ended: 0,
      accountsRestored: 0,
      accountsRemoved: 0,
      failed: 0,
    };
    // One repair failing (a namespace deleted, a refusal) must not hold up the others.
    const tryEach = async <T>(work: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await work();
      } catch (e) {
        report.failed++;
        deps.onError(cluster, e as Error);
        return undefined;
      }
    };

    for (const [key, { request, ref }] of wanted) {
      const found = actualByKey.get(key);
      if (found && grantsWanted(request, found)) continue;
      const outcome = await tryEach(() => restore(cluster, request, ref, found));
      if (outcome === 'created') report.restored++;
      if (outcome === 'updated') report.corrected++;
      if (outcome === 'ended-namespace-gone' || outcome === 'ended-guardrail') report.ended++;
    }
    for (const binding of actual) {
      const key = bindingKey(binding.ref);
      if (wanted.has(key) || settlingKeys.has(key)) continue;
      const outcome = await tryEach(() => remove(cluster, binding));
      if (outcome === 'orphan') report.removed++;
      if (outcome === 'forged') report.forgedRemoved++;
    }
    const repaired = await accountDrift.repair(
      cluster,
      accounts,
      requests,
      now,
      tryEach,
      (action, id, details) => record(audit(action, cluster, id, details)),
    );
    report.accountsRestored = repaired.restored;
    report.accountsRemoved = repaired.removed;
    return report;
  }

  return { reconcileCluster, isExpected };
}
