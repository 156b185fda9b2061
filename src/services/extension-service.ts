import {
  type AccessRequest,
  approveExtension,
  assertExtendable,
  denyExtension,
  type Extension,
  type ExtensionVerdict,
  grantedDurationMs,
  isApprover,
  pendingExtension,
  requestExtension,
} from '../domain/access-request.js';
import { type AuditEventInput, requestEvent, systemActor } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import { formatDuration } from '../domain/duration.js';
import { Forbidden, NotFound } from '../domain/errors.js';
import { type Identity, isAmong, type Principals } from '../domain/identity.js';
import type { KeyedLock } from './keyed-lock.js';
import { type MfaVerifier, mfaUnavailable } from './mfa-service.js';
import type { ClusterGateway, Store } from './ports.js';

/**
 * Judges an extension by policy as if the request asked for `totalDurationMs` (the duration asked for,
 * every approved extension and this one); throws Forbidden when the policy refuses it.
 */
export type ExtensionJudge = (request: AccessRequest, totalDurationMs: number) => Promise<ExtensionVerdict>;

export interface ExtensionServiceDeps {
  store: Pick<Store, 'getRequest' | 'updateRequest' | 'lockAcrossServers'>;
  clusters: Pick<ClusterGateway, 'annotateBinding'>;
  judge: ExtensionJudge;
  admins: Principals;
  clock: Clock;
  /** Shared with the request and grant services: one change to a request at a time. */
  withLock: KeyedLock;
  /** Told of every saved change, so the expiry timer follows a moved expiry. */
  onChange: (request: AccessRequest) => void;
  /** Checks (and uses up) approvers' one-time codes when the extension's policy requires MFA. */
  mfa?: MfaVerifier;
}

export type ExtensionService = ReturnType<typeof createExtensionService>;

const expiresAtAnnotation = 'elevate.dev/expires-at';

/**
 * More time on an Active grant. Every change runs under the request's lock across servers, the one its
 * expiry takes too: an approval and the expiry never both win. An approval that finds the grant expired
 * (or its expiry due) is refused, and the grant expires; one that comes first moves the expiry, and the
 * timer then finds nothing due. The bindings are never removed and written again: only their expiry
 * annotation changes, so access goes on without a gap.
 */
export function createExtensionService(deps: ExtensionServiceDeps) {
  const { store, clock } = deps;
  const exclusive: KeyedLock = (id, work) => deps.withLock(id, () => store.lockAcrossServers(id, work));

  const isAdmin = (who: Identity) => isAmong(who, deps.admins);
  const isExtensionApprover = (who: Identity, r: AccessRequest) =>
    r.extensions.some((e) => e.state === 'Pending' && isAmong(who, e.approvers));
  const canView = (who: Identity, r: AccessRequest) =>
    isAdmin(who) || r.spec.requester === who.user || isApprover(r, who) || isExtensionApprover(who, r);

  const event = (actor: string, r: AccessRequest, action: string, details: Record<string, unknown>) =>
    requestEvent(r, actor, action, clock.now(), details);

  async function load(who: Identity, id: string): Promise<AccessRequest> {
    const r = await store.getRequest(id);
    if (!r) throw new NotFound(`access request ${id} not found`);
    if (!canView(who, r)) throw new Forbidden(`${who.user} may not see access request ${id}`);
    return r;
  }

  /**
   * Moves the expiry on every binding (metadata only), then saves. The cluster first: if it cannot be
   * reached nothing is saved and the caller may try again, and the grant keeps its old expiry meanwhile.
   */
  async function saveApproved(
    before: AccessRequest,
    next: AccessRequest,
    extension: Extension,
    events: AuditEventInput[],
  ): Promise<AccessRequest> {
    const from = before.grant?.expiresAt;
    const to = next.grant?.expiresAt as Date;
    for (const ref of next.grant?.bindings ?? []) {
      await deps.clusters.annotateBinding(ref.cluster, ref, { [expiresAtAnnotation]: to.toISOString() });
    }
    events.push(
      event(systemActor, next, 'GrantExtended', {
        extension: extension.id,
        by: formatDuration(extension.byMs),
        from: from?.toISOString(),
        to: to.toISOString(),
      }),
    );
    return save(next, events);
  }

  async function save(next: AccessRequest, events: AuditEventInput[]): Promise<AccessRequest> {
    const saved = await store.updateRequest(next, events);
    deps.onChange(saved);
    return saved;
  }

  const decided = (r: AccessRequest, id: number) => r.extensions.find((e) => e.id === id) as Extension;

  return {
    /** The requester (or an admin) asks for `byMs` more on an Active grant. */
    extend(who: Identity, id: string, ask: { byMs: number; reason: string | null }): Promise<AccessRequest> {
      return exclusive(id, async () => {
        const r = await load(who, id);
        if (r.spec.requester !== who.user && !isAdmin(who)) {
          throw new Forbidden('only the requester or an admin may extend a grant');
        }
        assertExtendable(r, clock.now());
        if (ask.byMs <= 0) throw new Forbidden('an extension must add some time', 'by');
        const verdict = await deps.judge(r, grantedDurationMs(r) + ask.byMs);
        const next = requestExtension(r, { ...ask, requestedBy: who.user }, verdict, clock.now());
        const extension = next.extensions.at(-1) as Extension;
        const events = [
          event(who.user, next, 'ExtensionRequested', {
            extension: extension.id,
            by: formatDuration(extension.byMs),
            reason: extension.reason,
            policy: verdict.policy,
            decision: verdict.decision,
            requiredApprovals: extension.required,
          }),
        ];
        if (extension.state !== 'Approved') return save(next, events);
        events.push(
          event(systemActor, next, 'ExtensionApproved', { extension: extension.id, policy: verdict.policy }),
        );
        return saveApproved(r, next, extension, events);
      });
    },

    /** An approver's yes on the pending extension; at its quorum the expiry moves. `otp`: see requireMfa. */
    approve(who: Identity, id: string, comment: string | null, otp?: string): Promise<AccessRequest> {
      return exclusive(id, async () => {
        const r = await load(who, id);
        const pending = pendingExtension(r);
        const pendingId = pending?.id;
        const next = approveExtension(r, who, comment, clock.now());
        if (pending?.requireMfa) {
          await (deps.mfa ?? mfaUnavailable).verify(who.user, otp, {
            what: `extension approval under policy ${pending.policy}`,
            requestId: id,
          });
        }
        const extension = decided(next, pendingId as number);
        const events = [
          event(who.user, next, 'ExtensionApprovalRecorded', { extension: extension.id, comment }),
        ];
        if (extension.state !== 'Approved') return save(next, events);
        events.push(
          event(who.user, next, 'ExtensionApproved', {
            extension: extension.id,
            approvers: extension.approvals.filter((a) => a.decision === 'Approved').map((a) => a.user),
          }),
        );
        return saveApproved(r, next, extension, events);
      });
    },

    /** An approver's no on the pending extension; access goes on until the grant's expiry as it was. */
    deny(who: Identity, id: string, comment: string | null): Promise<AccessRequest> {
      return exclusive(id, async () => {
        const r = await load(who, id);
        const pendingId = pendingExtension(r)?.id;
        const next = denyExtension(r, who, comment, clock.now());
        const extension = decided(next, pendingId as number);
        const action = extension.state === 'Denied' ? 'ExtensionDenied' : 'ExtensionDenialRecorded';
        return save(next, [event(who.user, next, action, { extension: extension.id, comment })]);
      });
    },
  };
}
