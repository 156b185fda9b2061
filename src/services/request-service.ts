import {
  type AccessRequest,
  approve,
  checkStartTime,
  deny,
  isApprover,
  type Phase,
  transition,
} from '../domain/access-request.js';
import { type AuditEventInput, requestEvent } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import { Conflict, Forbidden, NotFound } from '../domain/errors.js';
import { type Identity, isAmong, type Principals } from '../domain/identity.js';
import type { GrantService } from './grant-service.js';
import type { KeyedLock } from './keyed-lock.js';
import { type MfaVerifier, mfaUnavailable } from './mfa-service.js';
import type { OnBehalf } from './on-behalf.js';
import type { ClusterDirectory, ClusterGateway, PolicySource, Store } from './ports.js';
import { createRequestCreation, type NewRequestInput } from './request-creation.js';
import type { TicketCheck } from './ticket-check.js';

export type { NewRequestInput };

/** A request as asked for over the API: for the caller, or for `onBehalfOf` (integrations only). */
export type RequestInput = Omit<NewRequestInput, 'onBehalf'> & { onBehalfOf?: string };

export interface RequestServiceDeps {
  store: Pick<
    Store,
    | 'createRequest'
    | 'updateRequest'
    | 'getRequest'
    | 'listRequests'
    | 'lockAcrossServers'
    | 'getBreakglassMode'
  >;
  clusters: Pick<ClusterGateway, 'namespaceLabels' | 'roleRules'>;
  grants: Pick<GrantService, 'settle' | 'cancelScheduled'>;
  /** The clusters a request may name, each with how its API server names OIDC users. */
  directory: Pick<ClusterDirectory, 'get'>;
  /** The policy set in force, swapped by config reloads; each decision reads it once. */
  policySource: PolicySource;
  admins: Principals;
  clock: Clock;
  /** Shared with the grant service: one change to a request at a time. */
  withLock: KeyedLock;
  /** Checks (and uses up) one-time codes for policies that require MFA; absent: MFA is not configured. */
  mfa?: MfaVerifier;
  /** Looks tickets up in their providers (tickets.providers). */
  tickets?: TicketCheck;
  /** How long a review of a grant made in ticket-system-down mode may stay open (breakglass.reviewDeadline). */
  reviewDeadlineMs?: number;
  /** Integrations asking on people's behalf (integrations[]); absent: nobody may. */
  onBehalf?: Pick<OnBehalf, 'actFor'>;
  /** Told of every saved change, so timers can follow the request. */
  onChange: (request: AccessRequest) => void;
  /** Logs a failed attempt to settle right away (the scheduler retries it). */
  onSettleError: (request: AccessRequest, error: Error) => void;
}

export type RequestService = ReturnType<typeof createRequestService>;

export function createRequestService(deps: RequestServiceDeps) {
  const { store, grants, clock, withLock } = deps;
  const creation = createRequestCreation(deps);

  const isAdmin = (who: Identity) => isAmong(who, deps.admins);
  const canView = (who: Identity, r: AccessRequest) =>
    isAdmin(who) || r.spec.requester === who.user || r.spec.requestedBy === who.user || isApprover(r, who);

  /**
   * Who the request is for: the caller, or (spec.requester naming someone else) the person an integration
   * asks for, judged as theirs.
   */
  async function requesterOf(who: Identity, input: RequestInput): Promise<[Identity, NewRequestInput]> {
    const { onBehalfOf, ...rest } = input;
    if (onBehalfOf === undefined || onBehalfOf === who.user) return [who, rest];
    if (!deps.onBehalf) {
      throw new Forbidden(
        `${who.user} may not ask on someone else's behalf: no integrations are configured`,
        'spec.requester',
      );
    }
    const acting = await deps.onBehalf.actFor(who, onBehalfOf, 'spec.requester');
    return [
      acting.person,
      { ...rest, onBehalf: { integration: acting.integration, requestedBy: acting.requestedBy } },
    ];
  }

  const event = (who: Identity, r: AccessRequest, action: string, details: Record<string, unknown> = {}) =>
    requestEvent(r, who.user, action, clock.now(), details);

  async function load(who: Identity, id: string): Promise<AccessRequest> {
    const r = await store.getRequest(id);
    if (!r) throw new NotFound(`access request ${id} not found`);
    if (!canView(who, r)) throw new Forbidden(`${who.user} may not see access request ${id}`);
    return r;
  }

  /** Saves a change that needs nothing done in the cluster now, and has it timed from here on. */
  async function saveAndTrack(next: AccessRequest, events: AuditEventInput[]): Promise<AccessRequest> {
    const saved = await store.updateRequest(next, events);
    deps.onChange(saved);
    return saved;
  }

  /**
   * Activates (or removes) right away so the caller sees the result, then has the request timed; a
   * failure is left to the scheduler's retries. Tracking only afterwards keeps the scheduler from
   * settling the same request a second time meanwhile.
   */
  async function settleNow(r: AccessRequest): Promise<AccessRequest> {
    let current: AccessRequest;
    try {
      current = await grants.settle(r.id);
    } catch (e) {
      deps.onSettleError(r, e as Error);
      current = (await store.getRequest(r.id)) ?? r;
    }
    deps.onChange(current);
    return current;
  }

  /** A start too far in the past or ahead is refused before anything is judged or stored. */
  function checkStart(input: NewRequestInput): void {
    checkStartTime(input.startTime, clock.now(), deps.policySource.current().limits.maxScheduleAheadMs);
  }

  return {
    isAdmin,

    /** Activates a request stored already Approved (break-glass) before answering, as create does. */
    settleApproved: settleNow,

    /** Makes a request; an auto-approved one is activated before this returns. Refusals throw RequestRefused. */
    async create(caller: Identity, requested: RequestInput): Promise<AccessRequest> {
      checkStart(requested);
      const [who, input] = await requesterOf(caller, requested);
      const created = await creation.create(who, input);
      if (created.phase === 'Approved') return settleNow(created);
      deps.onChange(created);
      return created;
    },

    async dryRun(caller: Identity, requested: RequestInput): Promise<AccessRequest> {
      checkStart(requested);
      const [who, input] = await requesterOf(caller, requested);
      return creation.dryRun(who, input);
    },

    get: load,

    async list(who: Identity, filter: { phase?: Phase } = {}): Promise<AccessRequest[]> {
      const all = await store.listRequests({
        ...(filter.phase ? { phases: [filter.phase] } : {}),
      });
      return all.filter((r) => canView(who, r));
    },

    /**
     * `otp`: the approver's fresh one-time code, for a request whose policy required MFA of approvers;
     * `via`: where the approver clicked when not in the API itself (slack), for the audit trail.
     */
    async approve(
      who: Identity,
      id: string,
      comment: string | null,
      otp?: string,
      via?: string,
    ): Promise<AccessRequest> {
      const saved = await withLock(id, async () => {
        const current = await load(who, id);
        const next = approve(current, who, comment, clock.now());
        // Only once this approver may approve: a code is not used up by an approval refused for who sends it.
        if (current.policy.approvalRequiresMfa) {
          await (deps.mfa ?? mfaUnavailable).verify(who.user, otp, {
            what: `approval under policy ${current.policy.name}`,
            requestId: id,
          });
        }
        const events = [event(who, next, 'ApprovalRecorded', { comment, ...(via ? { via } : {}) })];
        if (next.phase !== 'Approved') return saveAndTrack(next, events);
        events.push(event(who, next, 'RequestApproved', { approvers: next.approvals }));
        // The approval that completes the quorum grants: the limits must hold now, as they did when the
        // request was made. Over one, nothing is recorded and the approver may try again once it frees up.
        return creation.whileLimitsHold(async () => {
          const refusal = await creation.limitRefusal(next);
          if (refusal) throw new Conflict(`${refusal.message}; the approval was not recorded`);
          return store.updateRequest(next, events);
        });
      });
      return saved.phase === 'Approved' ? settleNow(saved) : saved;
    },

    deny(who: Identity, id: string, comment: string | null, via?: string): Promise<AccessRequest> {
      return withLock(id, async () => {
        const next = deny(await load(who, id), who, comment, clock.now());
        // Under denyEnds: false a denial is on record while the request still waits for its quorum.
        const action = next.phase === 'Denied' ? 'RequestDenied' : 'DenialRecorded';
        return saveAndTrack(next, [event(who, next, action, { comment, ...(via ? { via } : {}) })]);
      });
    },

    async cancel(who: Identity, id: string): Promise<AccessRequest> {
      const canceled = await withLock(id, async () => {
        const r = await load(who, id);
        if (r.spec.requester !== who.user && r.spec.requestedBy !== who.user && !isAdmin(who)) {
          throw new Forbidden(
            'only the requester (or the integration that asked for them) or an admin may cancel a request',
          );
        }
        // A scheduled one is canceled by the grant service, under the lock its activation takes.
        if (r.phase === 'Scheduled') return null;
        const next = transition(r, 'Canceled', clock.now(), `canceled by ${who.user}`);
        return saveAndTrack(next, [event(who, next, 'RequestCanceled')]);
      });
      if (canceled) return canceled;
      const saved = await grants.cancelScheduled(id, who.user);
      deps.onChange(saved);
      return saved;
    },

    async revoke(who: Identity, id: string, reason: string | null): Promise<AccessRequest> {
      const intent = await withLock(id, async () => {
        const r = await load(who, id);
        const asker = r.spec.requester === who.user || r.spec.requestedBy === who.user;
        if (!asker && !isApprover(r, who) && !isAdmin(who)) {
          throw new Forbidden('only the requester, an approver of the request or an admin may revoke it');
        }
        if (r.phase !== 'Active' && r.phase !== 'Approved' && r.phase !== 'Scheduled') {
          throw new Conflict(
            `request ${id} is ${r.phase}; only Approved, Scheduled or Active access can be revoked`,
          );
        }
        // A second revoke while the first still waits for the cluster just tries the removal again.
        if (r.revocation) return r;
        const now = clock.now();
        const next: AccessRequest = {
          ...r,
          revocation: { by: who.user, reason, at: now },
          updatedAt: now,
          message: `revocation requested by ${who.user}`,
        };
        return store.updateRequest(next, [event(who, next, 'RevokeRequested', { reason })]);
      });
      return settleNow(intent);
    },
  };
}
