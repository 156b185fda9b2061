import { type AccessRequest, activate, isDueForRemoval, transition } from '../domain/access-request.js';
import { requestEvent, systemActor } from '../domain/audit-event.js';
import { bindingKey, desiredBinding } from '../domain/binding.js';
import type { Clock } from '../domain/clock.js';
import { NotFound } from '../domain/errors.js';
import type { KeyedLock } from './keyed-lock.js';
import type { ClusterGateway, ManagedBinding, Store } from './ports.js';

export interface GrantServiceDeps {
  store: Pick<Store, 'getRequest' | 'updateRequest'>;
  clusters: Pick<ClusterGateway, 'applyBinding' | 'deleteBinding'>;
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

  async function activateNow(request: AccessRequest): Promise<AccessRequest> {
    const binding = desiredBinding(request, new Date(clock.now().getTime() + request.spec.durationMs));
    await clusters.applyBinding(request.spec.cluster, binding);
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
    const refs = request.grant?.bindings ?? [desiredBinding(request, null).ref];
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

  const isLive = (r: AccessRequest | null, now: Date) =>
    r !== null && (r.phase === 'Approved' || r.phase === 'Active') && !isDueForRemoval(r, now);

  return {
    /**
     * Writes the binding of a grant again after drift. Re-reads the request under its lock first,
     * so a grant that expired meanwhile is never brought back.
     */
    restoreBinding(id: string): Promise<'created' | 'updated' | 'unchanged' | 'not-live'> {
      return withLock(id, async () => {
        const request = await store.getRequest(id);
        if (request?.phase !== 'Active' || !isLive(request, clock.now())) return 'not-live';
        return clusters.applyBinding(
          request.spec.cluster,
          desiredBinding(request, request.grant?.expiresAt ?? null),
        );
      });
    },

    /** Deletes a binding labelled as Elevate's unless its request is (still or by now) live. False when kept. */
    removeOrphan(cluster: string, binding: ManagedBinding): Promise<boolean> {
      return withLock(binding.requestId ?? bindingKey(binding.ref), async () => {
        const request = binding.requestId ? await store.getRequest(binding.requestId) : null;
        if (request?.spec.cluster === cluster && isLive(request, clock.now())) return false;
        await clusters.deleteBinding(cluster, binding.ref);
        return true;
      });
    },

    /** Does whatever is due for the request now and returns it as saved. */
    settle(id: string): Promise<AccessRequest> {
      return withLock(id, async () => {
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
