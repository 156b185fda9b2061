import {
  type AccessRequest,
  activate,
  type BindingRef,
  grantEnd,
  isDueForRemoval,
  lapseExtension,
  pendingExtension,
  schedule,
  startsLater,
  transition,
} from '../domain/access-request.js';
import { type AuditEventInput, requestEvent, systemActor } from '../domain/audit-event.js';
import { bindingKey, type DesiredBinding, desiredBindings } from '../domain/binding.js';
import type { Clock } from '../domain/clock.js';
import { formatDuration } from '../domain/duration.js';
import { Conflict, NotFound, Refused } from '../domain/errors.js';
import {
  type CredentialAccount,
  credentialAccounts,
  desiredAccounts,
  sameAccount,
} from '../domain/grant-mechanism.js';
import { checkGuardrails } from '../domain/policy/guardrails.js';
import type { Refusal } from '../domain/policy/types.js';
import { describeTarget } from '../domain/target.js';
import type { KeyedLock } from './keyed-lock.js';
import type { ClusterGateway, ManagedAccount, ManagedBinding, PolicySource, Store } from './ports.js';
import { createSaveBatcher } from './save-batcher.js';

export interface GrantServiceDeps {
  store: Pick<Store, 'getRequest' | 'updateRequest' | 'updateRequests' | 'lockAcrossServers'>;
  clusters: Pick<
    ClusterGateway,
    | 'applyBinding'
    | 'deleteBinding'
    | 'namespaceExists'
    | 'roleRules'
    | 'applyServiceAccount'
    | 'deleteServiceAccount'
  >;
  /** The guardrails in force, judged again right before bindings are written. */
  policySource: PolicySource;
  clock: Clock;
  /** Shared with the request service: one change to a request at a time. */
  withLock: KeyedLock;
}

export type GrantService = ReturnType<typeof createGrantService>;

/** How long a request whose removal began is remembered as such (see isRemoving). */
const removingRememberedMs = 5 * 60_000;

/**
 * Brings one request's access in line with its state: writes the binding of an
 * approved request, removes the binding of an expired or revoked one, times out
 * a pending one past its deadline. Level-triggered and idempotent; a cluster
 * that can't be reached throws Unavailable and nothing is marked done.
 */
export function createGrantService({ store, clusters, policySource, clock, withLock }: GrantServiceDeps) {
  const event = (request: AccessRequest, action: string, details: Record<string, unknown> = {}) =>
    requestEvent(request, systemActor, action, clock.now(), details);
  /**
   * One cluster write (and the save after it) at a time per request, on every server at once. Version
   * checks alone are not enough: a follower could save Revoked, finding no binding, while the leader's
   * create for the same request is still on its way, and the binding would land after the grant was
   * reported gone; a drift repair could likewise write back a binding another server just removed.
   */
  const exclusive: KeyedLock = (id, work) => withLock(id, () => store.lockAcrossServers(id, work));
  const saveTogether = createSaveBatcher(store);

  /**
   * Writes every binding of the grant, then starts its clock. Each write is idempotent, so a grant whose
   * bindings were only partly written (a cluster down) is simply tried again whole; the clock starts only
   * once all of them exist, so the targets appear together.
   */
  async function activateNow(request: AccessRequest): Promise<AccessRequest> {
    const refusal = await guardrailRefusal(request);
    if (refusal) return refuseAtActivation(request, refusal);
    const bindings = desiredBindings(request, grantEnd(request, clock.now()));
    // A credential grant's ServiceAccounts exist before anything is bound to them.
    for (const account of desiredAccounts(request)) {
      try {
        await clusters.applyServiceAccount(account.cluster, account);
      } catch (e) {
        if (!(e instanceof Refused)) throw e;
        return endBySystem(
          request,
          `the cluster refused the grant's ServiceAccount ${account.namespace}/${account.name}: ${e.message}`,
        );
      }
    }
    for (const binding of bindings) {
      try {
        await clusters.applyBinding(binding.ref.cluster, binding);
      } catch (e) {
        // Refused for good (the namespace is gone, Elevate may not bind the role, the binding is invalid):
        // retrying would go on for ever while the requester waits for nothing. The request ends now, says
        // why, and takes whatever of it was already written with it. An outage (Unavailable) is retried.
        if (!(e instanceof Refused)) throw e;
        return endBySystem(request, await refusalReason(request, binding, e));
      }
    }
    const active = activate(
      request,
      bindings.map((b) => b.ref),
      clock.now(),
    );
    // The bindings' expiry annotation was a forecast; the grant's own expiry is what counts.
    return store.updateRequest(active, [
      event(active, 'GrantActivated', {
        bindings: bindings.map((b) => b.ref),
        targets: request.spec.targets,
        expiresAt: active.grant?.expiresAt.toISOString(),
      }),
    ]);
  }

  /**
   * The guardrails again, with each role's rules as the cluster holds them now: a role edited since the
   * request was made to grant something that escalates is not bound. Requests made before role rules were
   * judged (no allowEscalatingRoles on record) are not judged again. A cluster that cannot answer throws
   * Unavailable, and activation is retried.
   */
  async function guardrailRefusal(request: AccessRequest): Promise<Refusal | null> {
    const allowEscalatingRoles = request.policy.allowEscalatingRoles;
    if (allowEscalatingRoles === undefined) return null;
    const { guardrails } = policySource.current();
    for (const t of request.spec.targets) {
      const rules = await clusters.roleRules(t.cluster, t.roleKind, t.role, t.namespace);
      const refusal = checkGuardrails(
        guardrails,
        { name: request.policy.name, allowEscalatingRoles },
        t,
        rules,
      );
      if (refusal) return refusal;
    }
    return null;
  }

  /** Ends an approved request the guardrails now refuse: Denied with the reason, nothing left behind. */
  async function refuseAtActivation(request: AccessRequest, refusal: Refusal): Promise<AccessRequest> {
    await deleteAll(request);
    const denied = transition(request, 'Denied', clock.now(), `refused at activation: ${refusal.message}`);
    return store.updateRequest(denied, [event(denied, 'ActivationRefused', { refusal })]);
  }

  async function refusalReason(request: AccessRequest, binding: DesiredBinding, e: Error): Promise<string> {
    const target = request.spec.targets.find(
      (t) => t.cluster === binding.ref.cluster && t.namespace === binding.ref.namespace,
    );
    if (target?.namespace && !(await namespaceExists(target.cluster, target.namespace))) {
      return `namespace ${target.namespace} on cluster ${target.cluster} was deleted`;
    }
    const what = target ? ` for ${describeTarget(target)}` : '';
    return `the cluster refused the binding${what}: ${e.message}`;
  }

  /**
   * Requests whose bindings this service is removing because they are due for removal, and when that
   * began. Once due, a request never wants a binding again, so the deletion of any binding labelled with
   * its id is Elevate's own doing: the drift watch can tell so without reading the request back.
   */
  const removing = new Map<string, number>();
  function markRemoving(id: string): void {
    const now = clock.now().getTime();
    removing.delete(id);
    removing.set(id, now);
    // Oldest first (insertion order): the watch hears of a deletion within moments, so a few minutes is
    // plenty; forgetting only costs the watch one store read.
    for (const [old, at] of removing) {
      if (now - at < removingRememberedMs) break;
      removing.delete(old);
    }
  }

  /**
   * Deletes every binding of the request, then a credential grant's ServiceAccounts; only when all are gone
   * may it be reported ended. Bindings first: the API server stops authorizing a token's requests the
   * moment its bindings go, while a deleted ServiceAccount's tokens may authenticate for a few seconds
   * more (the API server caches token authentications).
   */
  async function deleteAll(request: AccessRequest): Promise<BindingRef[]> {
    const refs = bindingsOf(request);
    for (const ref of refs) await clusters.deleteBinding(ref.cluster, ref, request.id);
    for (const account of credentialAccounts(request))
      await clusters.deleteServiceAccount(account.cluster, account);
    return refs;
  }

  async function removeNow(request: AccessRequest): Promise<AccessRequest> {
    markRemoving(request.id);
    const refs = await deleteAll(request);
    const now = clock.now();
    if (request.revocation) {
      const { by, reason } = request.revocation;
      const revoked = transition(request, 'Revoked', now, `revoked by ${by}${reason ? `: ${reason}` : ''}`);
      return saveEnded(revoked, event(revoked, 'GrantRevoked', { by, reason, bindings: refs }));
    }
    const expired = transition(request, 'Expired', now, 'access expired');
    return saveEnded(
      expired,
      event(expired, 'GrantExpired', { expiresAt: request.grant?.expiresAt.toISOString(), bindings: refs }),
    );
  }

  /**
   * Saves a grant that has ended; an extension still waiting for approval lapses with it. Grants ending
   * together (a burst of expiries) are saved together, each only after its own bindings are gone.
   */
  function saveEnded(ended: AccessRequest, endEvent: AuditEventInput): Promise<AccessRequest> {
    const pending = pendingExtension(ended);
    if (!pending) return saveTogether(ended, [endEvent]);
    const lapsed = lapseExtension(ended, clock.now());
    return saveTogether(lapsed, [
      endEvent,
      event(lapsed, 'ExtensionLapsed', { extension: pending.id, by: formatDuration(pending.byMs) }),
    ]);
  }

  /** An approval whose start time lies ahead waits for it: nothing is written to any cluster before. */
  function scheduleNow(request: AccessRequest): Promise<AccessRequest> {
    const scheduled = schedule(request, clock.now());
    return store.updateRequest(scheduled, [
      event(scheduled, 'GrantScheduled', { startTime: request.spec.startTime?.toISOString() }),
    ]);
  }

  async function timeOut(request: AccessRequest): Promise<AccessRequest> {
    const timedOut = transition(request, 'TimedOut', clock.now(), 'no decision before the approval deadline');
    return store.updateRequest(timedOut, [event(timedOut, 'RequestTimedOut', {})]);
  }

  /** Whether the request stands behind a binding now: being activated or Active, and not due for removal. */
  const wantsBinding = (r: AccessRequest | null, now: Date): r is AccessRequest =>
    r !== null && (r.phase === 'Approved' || r.phase === 'Active') && !isDueForRemoval(r, now);

  /** False only when the cluster says the namespace is not there; an unanswered question counts as there. */
  const namespaceExists = (cluster: string, namespace: string) =>
    clusters.namespaceExists(cluster, namespace).catch(() => true);

  /**
   * Ends access Elevate can no longer give, e.g. a grant whose namespace was deleted: its binding went with
   * the namespace and can never be written again there, so retrying would go on until expiry. Its other
   * bindings are removed first: the targets of a grant go together. Revoked at once rather than Expired,
   * because the access ended before its time, by Elevate itself.
   */
  async function endBySystem(request: AccessRequest, reason: string): Promise<AccessRequest> {
    const refs = await deleteAll(request);
    const now = clock.now();
    const revoked = transition(
      { ...request, revocation: { by: systemActor, reason, at: now } },
      'Revoked',
      now,
      `revoked by ${systemActor}: ${reason}`,
    );
    return saveEnded(revoked, event(revoked, 'GrantRevoked', { by: systemActor, reason, bindings: refs }));
  }

  return {
    /**
     * Whether this service has begun removing the request's access because it was due for removal (expired
     * or revoked). Such a request never wants a binding again, so a deletion of one labelled with its id is
     * expected. False means "not known here", not "still wanted": ask the store.
     */
    isRemoving(id: string): boolean {
      return removing.has(id);
    },

    /**
     * Writes one binding of an active grant again after drift. Re-reads the request under its lock first,
     * so a grant that expired meanwhile is never brought back. A grant whose namespace is gone is ended.
     */
    restoreBinding(
      id: string,
      ref: BindingRef,
    ): Promise<
      'created' | 'updated' | 'unchanged' | 'not-active' | 'ended-namespace-gone' | 'ended-guardrail'
    > {
      return exclusive(id, async () => {
        const request = await store.getRequest(id);
        if (request?.phase !== 'Active' || !wantsBinding(request, clock.now())) return 'not-active';
        const desired = desiredBindings(request, request.grant?.expiresAt ?? null).find(
          (b) => bindingKey(b.ref) === bindingKey(ref),
        );
        if (!desired) return 'not-active';
        // Writing it again is writing a binding: the guardrails are judged again, with the roles' rules as
        // they are now. A role edited meanwhile to escalate ends the grant rather than being bound again.
        const refusal = await guardrailRefusal(request);
        if (refusal) {
          await endBySystem(request, `refused when its binding was to be restored: ${refusal.message}`);
          return 'ended-guardrail';
        }
        try {
          return await clusters.applyBinding(ref.cluster, desired);
        } catch (e) {
          if (ref.namespace === null || (await namespaceExists(ref.cluster, ref.namespace))) throw e;
          await endBySystem(request, `namespace ${ref.namespace} on cluster ${ref.cluster} was deleted`);
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
        // A scheduled request wants no binding before its start: one carrying its label was dressed up.
        const scheduled = request?.phase === 'Scheduled';
        const live = wantsBinding(request, clock.now());
        if (live && isBindingOf(request, binding.ref)) return 'kept';
        if ((await clusters.deleteBinding(cluster, binding.ref)) === 'absent') return 'absent';
        return live || scheduled ? 'forged' : 'orphan';
      });
    },

    /**
     * Makes a credential grant's ServiceAccount again after drift (its old tokens stay dead: a new account
     * has a new uid). Re-reads the request under its lock, so an ended grant never gets one back.
     */
    restoreAccount(id: string, account: CredentialAccount): Promise<'created' | 'unchanged' | 'not-active'> {
      return exclusive(id, async () => {
        const request = await store.getRequest(id);
        if (request?.phase !== 'Active' || !wantsBinding(request, clock.now())) return 'not-active';
        const desired = desiredAccounts(request).find((a) => sameAccount(a, account));
        return desired ? clusters.applyServiceAccount(desired.cluster, desired) : 'not-active';
      });
    },

    /** Deletes a labelled ServiceAccount unless a live credential grant stands behind it. */
    removeOrphanAccount(account: ManagedAccount): Promise<'kept' | 'absent' | 'orphan'> {
      return exclusive(
        account.requestId ?? `${account.cluster}/${account.namespace}/${account.name}`,
        async () => {
          const request = account.requestId ? await store.getRequest(account.requestId) : null;
          if (
            wantsBinding(request, clock.now()) &&
            credentialAccounts(request).some((a) => sameAccount(a, account))
          )
            return 'kept';
          const deleted = await clusters.deleteServiceAccount(account.cluster, account);
          return deleted === 'absent' ? 'absent' : 'orphan';
        },
      );
    },

    /**
     * Withdraws a scheduled request before its start, under the same cross-server lock as its activation:
     * either the activation ran first (the request is Active, and only a revocation ends it now) or it
     * finds the request Canceled and writes nothing.
     */
    cancelScheduled(id: string, by: string): Promise<AccessRequest> {
      return exclusive(id, async () => {
        const request = await store.getRequest(id);
        if (!request) throw new NotFound(`request ${id} not found`);
        if (request.phase !== 'Scheduled') {
          throw new Conflict(
            `request ${id} is ${request.phase}; ${request.phase === 'Active' ? 'revoke it instead' : 'it cannot be canceled'}`,
          );
        }
        const canceled = transition(request, 'Canceled', clock.now(), `canceled by ${by}`);
        return store.updateRequest(canceled, [{ ...event(canceled, 'RequestCanceled'), actor: by }]);
      });
    },

    /** Does whatever is due for the request now and returns it as saved. */
    settle(id: string): Promise<AccessRequest> {
      return exclusive(id, async () => {
        const request = await store.getRequest(id);
        if (!request) throw new NotFound(`request ${id} not found`);
        const now = clock.now();
        if (isDueForRemoval(request, now)) return removeNow(request);
        if (request.phase === 'Approved' && startsLater(request, now)) return scheduleNow(request);
        if (request.phase === 'Approved') return activateNow(request);
        if (request.phase === 'Scheduled' && !startsLater(request, now)) return activateNow(request);
        const deadline = request.policy.approvalDeadline;
        if (request.phase === 'Pending' && deadline && deadline <= now) return timeOut(request);
        return request;
      });
    },
  };
}

/** The bindings a request stands behind: its grant's once active, the ones it is about to write before. */
export function bindingsOf(request: AccessRequest): BindingRef[] {
  return request.grant?.bindings ?? desiredBindings(request, null).map((b) => b.ref);
}

/** Whether `ref` names one of the bindings the request stands behind (cluster, kind, namespace and name). */
export function isBindingOf(request: AccessRequest, ref: BindingRef): boolean {
  return bindingsOf(request).some((own) => bindingKey(own) === bindingKey(ref));
}
