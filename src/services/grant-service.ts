import {
  type AccessRequest,
  activate,
  type BindingRef,
  isDueForRemoval,
  transition,
} from '../domain/access-request.js';
import { requestEvent, systemActor } from '../domain/audit-event.js';
import { bindingKey, desiredBinding } from '../domain/binding.js';
import type { Clock } from '../domain/clock.js';
import { NotFound, Refused } from '../domain/errors.js';
import type { KeyedLock } from './keyed-lock.js';
import type { ClusterGateway, ManagedBinding, Store } from './ports.js';

export interface GrantServiceDeps {
  store: Pick<Store, 'getRequest' | 'updateRequest' | 'lockAcrossServers'>;
  clusters: Pick<ClusterGateway, 'applyBinding' | 'deleteBinding' | 'namespaceExists'>;
  clock: Clock;
  /** Shared with the request service: one change to a request at a time. */
  withLock: KeyedLock;
}

export type GrantService = ReturnType<typeof createGrantService>;

/**
 * Brings one request's access in line with its state: writes the binding of an
 * approved request, removes the binding of an expired or revoked one, times out
 * a pending one past its deadline. Level-triggered and idempotent; a cluster
 * that can't be reached throws Unavailable and nothing is marked done.
 */
export function createGrantService({ store, clusters, clock, withLock }: GrantServiceDeps) {
  const event = (request: AccessRequest, action: string, details: Record<string, unknown> = {}) =>
    requestEvent(request, systemActor, action, clock.now(), details);
  /**
   * One cluster write (and the save after it) at a time per request, on every server at once. Version
   * checks alone are not enough: a follower could save Revoked, finding no binding, while the leader's
   * create for the same request is still on its way, and the binding would land after the grant was
   * reported gone; a drift repair could likewise write back a binding another server just removed.
   */
  const exclusive: KeyedLock = (id, work) => withLock(id, () => store.lockAcrossServers(id, work));

  async function activateNow(request: AccessRequest): Promise<AccessRequest> {
    const binding = desiredBinding(request, new Date(clock.now().getTime() + request.spec.durationMs));
    try {
      await clusters.applyBinding(request.spec.cluster, binding);
    } catch (e) {
      // Refused for good (the namespace is gone, Elevate may not bind the role, the binding is invalid):
      // retrying would go on for ever while the requester waits for nothing. Nothing was written, so the
      // request ends now and says why. An outage (Unavailable) is retried as before.
      if (!(e instanceof Refused)) throw e;
      const reason = (await namespaceGone(request))
        ? `namespace ${request.spec.namespace} was deleted`
        : `the cluster refused the binding: ${e.message}`;
      return endBySystem(request, reason);
    }
    const active = activate(request, [binding.ref], clock.now());
    // The binding's expiry annotation was a forecast; the grant's own expiry is what counts.
    return store.updateRequest(active, [
      event(active, 'GrantActivated', {
        binding: binding.ref,
        role: `${request.spec.roleKind}/${request.spec.role}`,
        expiresAt: active.grant?.expiresAt.toISOString(),
      }),
    ]);
  }

  async function removeNow(request: AccessRequest): Promise<AccessRequest> {
    const refs = bindingsOf(request);
    for (const ref of refs) await clusters.deleteBinding(request.spec.cluster, ref);
    const now = clock.now();
    if (request.revocation) {
      const { by, reason } = request.revocation;
      const revoked = transition(request, 'Revoked', now, `revoked by ${by}${reason ? `: ${reason}` : ''}`);
      return store.updateRequest(revoked, [event(revoked, 'GrantRevoked', { by, reason, bindings: refs })]);
    }
    const expired = transition(request, 'Expired', now, 'access expired');
    return store.updateRequest(expired, [
      event(expired, 'GrantExpired', { expiresAt: request.grant?.expiresAt.toISOString(), bindings: refs }),
    ]);
  }

  async function timeOut(request: AccessRequest): Promise<AccessRequest> {
    const timedOut = transition(request, 'TimedOut', clock.now(), 'no decision before the approval deadline');
    return store.updateRequest(timedOut, [event(timedOut, 'RequestTimedOut', {})]);
  }

  /** Whether the request stands behind a binding now: being activated or Active, and not due for removal. */
  const wantsBinding = (r: AccessRequest | null, now: Date): r is AccessRequest =>
    r !== null && (r.phase === 'Approved' || r.phase === 'Active') && !isDueForRemoval(r, now);

  /** True when the grant's namespace no longer exists; false too when that cannot be found out now. */
  async function namespaceGone(request: AccessRequest): Promise<boolean> {
    const { cluster, namespace } = request.spec;
    if (namespace === null) return false;
    return !(await clusters.namespaceExists(cluster, namespace).catch(() => true));
  }

  /**
   * Ends access Elevate can no longer give, e.g. a grant whose namespace was deleted: its binding went with
   * the namespace and can never be written again there, so retrying would go on until expiry. Revoked at
   * once rather than Expired, because the access ended before its time, by Elevate itself.
   */
  async function endBySystem(request: AccessRequest, reason: string): Promise<AccessRequest> {
    const now = clock.now();
    const revoked = transition(
      { ...request, revocation: { by: systemActor, reason, at: now } },
      'Revoked',
      now,
      `revoked by ${systemActor}: ${reason}`,
    );
    return store.updateRequest(revoked, [
      event(revoked, 'GrantRevoked', { by: systemActor, reason, bindings: bindingsOf(request) }),
    ]);
  }

  return {
    /**
     * Writes the binding of an active grant again after drift. Re-reads the request under its lock first,
     * so a grant that expired meanwhile is never brought back. A grant whose namespace is gone is ended.
     */
    restoreBinding(
      id: string,
    ): Promise<'created' | 'updated' | 'unchanged' | 'not-active' | 'ended-namespace-gone'> {
      return exclusive(id, async () => {
        const request = await store.getRequest(id);
        if (request?.phase !== 'Active' || !wantsBinding(request, clock.now())) return 'not-active';
        try {
          return await clusters.applyBinding(
            request.spec.cluster,
            desiredBinding(request, request.grant?.expiresAt ?? null),
          );
        } catch (e) {
          if (!(await namespaceGone(request))) throw e;
          await endBySystem(request, `namespace ${request.spec.namespace} was deleted`);
          return 'ended-namespace-gone';
        }
      });
    },

    /**
     * Deletes a binding labelled as Elevate's unless it is exactly one a request of this cluster stands
     * behind (by name; what it grants is restoreBinding's to correct). 'forged' when the label names a
     * request that is live but does not want this binding: someone dressed up access as a grant's.
     */
    removeOrphan(cluster: string, binding: ManagedBinding): Promise<'kept' | 'absent' | 'orphan' | 'forged'> {
      return exclusive(binding.requestId ?? bindingKey(binding.ref), async () => {
        const request = binding.requestId ? await store.getRequest(binding.requestId) : null;
        const live = wantsBinding(request, clock.now());
        if (live && request.spec.cluster === cluster && isBindingOf(request, binding.ref)) return 'kept';
        if ((await clusters.deleteBinding(cluster, binding.ref)) === 'absent') return 'absent';
        return live ? 'forged' : 'orphan';
      });
    },

    /** Does whatever is due for the request now and returns it as saved. */
    settle(id: string): Promise<AccessRequest> {
      return exclusive(id, async () => {
        const request = await store.getRequest(id);
        if (!request) throw new NotFound(`request ${id} not found`);
        const now = clock.now();
        if (isDueForRemoval(request, now)) return removeNow(request);
        if (request.phase === 'Approved') return activateNow(request);
        const deadline = request.policy.approvalDeadline;
        if (request.phase === 'Pending' && deadline && deadline <= now) return timeOut(request);
        return request;
      });
    },
  };
}

/** The bindings a request stands behind: its grant's once active, the one it is about to write before. */
export function bindingsOf(request: AccessRequest): BindingRef[] {
  return request.grant?.bindings ?? [desiredBinding(request, null).ref];
}

/** Whether `ref` names one of the bindings the request stands behind (kind, namespace and name). */
export function isBindingOf(request: AccessRequest, ref: BindingRef): boolean {
  return bindingsOf(request).some((own) => bindingKey(own) === bindingKey(ref));
}
