import { randomBytes } from 'node:crypto';
import {
  type AccessRequest,
  type AccessRequestSpec,
  approve,
  deny,
  isApprover,
  type Phase,
  transition,
} from '../domain/access-request.js';
import { type AuditEventInput, requestEvent, systemActor } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import { Conflict, Forbidden, Invalid, NotFound } from '../domain/errors.js';
import { type Identity, isAmong, type Principals } from '../domain/identity.js';
import {
  checkDurationLimits,
  type DurationLimits,
  decide,
  type Guardrails,
  type Policy,
} from '../domain/policy.js';
import { describeTarget, type Target, targetKey } from '../domain/target.js';
import type { GrantService } from './grant-service.js';
import type { KeyedLock } from './keyed-lock.js';
import type { ClusterGateway, PolicySource, Store } from './ports.js';

/** What a requester asks for; who asks comes from authentication. */
export type NewRequestInput = Omit<AccessRequestSpec, 'requester' | 'requesterGroups'>;

export interface RequestServiceDeps {
  store: Pick<Store, 'createRequest' | 'updateRequest' | 'getRequest' | 'listRequests'>;
  clusters: Pick<ClusterGateway, 'roleExists' | 'namespaceExists'>;
  grants: Pick<GrantService, 'settle'>;
  clusterNames: string[];
  policies: Policy[];
  guardrails: Guardrails;
  limits: DurationLimits;
  admins: Principals;
  clock: Clock;
  /** Shared with the grant service: one change to a request at a time. */
  withLock: KeyedLock;
  /** Told of every saved change, so timers can follow the request. */
  onChange: (request: AccessRequest) => void;
  /** Logs a failed attempt to settle right away (the scheduler retries it). */
  onSettleError: (request: AccessRequest, error: Error) => void;
  /** The policy set in force, swapped by config reloads (not judged with yet: the first engine decides). */
  policySource?: PolicySource;
}

export type RequestService = ReturnType<typeof createRequestService>;

export function createRequestService(deps: RequestServiceDeps) {
  const { store, clusters, grants, clock, withLock } = deps;

  const isAdmin = (who: Identity) => isAmong(who, deps.admins);
  const canView = (who: Identity, r: AccessRequest) =>
    isAdmin(who) || r.spec.requester === who.user || isApprover(r, who);

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

  function validateShape(input: NewRequestInput): void {
    if (input.targets.length === 0) throw new Invalid('give at least one target', 'spec.targets');
    const seen = new Set<string>();
    input.targets.forEach((t, i) => {
      const field = input.targets.length === 1 ? 'spec' : `spec.targets[${i}]`;
      if (!deps.clusterNames.includes(t.cluster)) {
        throw new Invalid(`unknown cluster ${t.cluster}`, `${field}.cluster`);
      }
      if (t.roleKind === 'Role' && t.namespace === null) {
        throw new Invalid('a Role is namespaced: give a namespace, not cluster-wide', `${field}.namespace`);
      }
      if (seen.has(targetKey(t))) throw new Invalid(`${describeTarget(t)} is asked for twice`, field);
      seen.add(targetKey(t));
    });
    if (input.reason.trim() === '') throw new Invalid('a reason is required', 'spec.reason');
    checkDurationLimits(input.durationMs, deps.limits);
  }

  /**
   * Asks the cluster whether each target's namespace and role exist, so a grant never points at nothing.
   * Missing ones are NotFound (404), as the API server itself answers for an object in a namespace that
   * does not exist: the request is well formed, the cluster just lacks what it names.
   */
  async function validateTargets(targets: Target[]): Promise<void> {
    for (const [i, t] of targets.entries()) {
      const field = targets.length === 1 ? 'spec' : `spec.targets[${i}]`;
      if (t.namespace !== null && !(await clusters.namespaceExists(t.cluster, t.namespace))) {
        throw new NotFound(
          `namespace ${t.namespace} not found in cluster ${t.cluster}`,
          `${field}.namespace`,
        );
      }
      if (!(await clusters.roleExists(t.cluster, t.roleKind, t.role, t.namespace))) {
        const where = t.roleKind === 'Role' ? ` in namespace ${t.namespace}` : '';
        throw new NotFound(
          `${t.roleKind} ${t.role} not found${where} in cluster ${t.cluster}`,
          `${field}.role`,
        );
      }
    }
  }

  /** One decision for all targets: each must be allowed by the same policy, or the request is refused. */
  function decideAll(spec: AccessRequestSpec) {
    const outcomes = spec.targets.map((t) => decide(deps.policies, deps.guardrails, { ...spec, ...t }));
    const first = outcomes[0] as (typeof outcomes)[number];
    outcomes.forEach((o, i) => {
      if (o.policy.name !== first.policy.name) {
        throw new Forbidden(
          `${describeTarget(spec.targets[i] as Target)} falls under policy ${o.policy.name}, the others under ${first.policy.name}: one request is decided by one policy`,
        );
      }
    });
    return first;
  }

  return {
    isAdmin,

    async create(who: Identity, input: NewRequestInput): Promise<AccessRequest> {
      const spec: AccessRequestSpec = { ...input, requester: who.user, requesterGroups: who.groups };
      validateShape(input);
      // Policy before the cluster: a request no policy allows is refused without touching the cluster.
      const outcome = decideAll(spec);
      await validateTargets(input.targets);
      const now = clock.now();
      const approval = outcome.decision === 'approval' ? outcome.policy.approval : null;
      const pending: AccessRequest = {
        id: newRequestId(),
        createdAt: now,
        updatedAt: now,
        version: 1,
        spec,
        policy: {
          name: outcome.policy.name,
          decision: outcome.decision,
          approvers: approval?.approvers ?? { users: [], groups: [] },
          required: approval?.required ?? 0,
          approvalDeadline: approval ? new Date(now.getTime() + approval.timeoutMs) : null,
        },
        phase: 'Pending',
        approvals: [],
        grant: null,
        revocation: null,
        message: approval ? `waiting for ${approval.required} approval(s)` : 'approved by policy',
      };
      const created = event(who, pending, 'RequestCreated', {
        spec: { ...spec, requesterGroups: undefined },
        policy: outcome.policy.name,
        decision: outcome.decision,
      });
      if (outcome.decision === 'auto') {
        const approved = transition(pending, 'Approved', now, `approved by policy ${outcome.policy.name}`);
        await store.createRequest(approved, [
          created,
          { ...event(who, approved, 'RequestApproved', { policy: outcome.policy.name }), actor: systemActor },
        ]);
        return settleNow(approved);
      }
      await store.createRequest(pending, [created]);
      deps.onChange(pending);
      return pending;
    },

    get: load,

    async list(who: Identity, filter: { phase?: Phase } = {}): Promise<AccessRequest[]> {
      const all = await store.listRequests({
        ...(filter.phase ? { phases: [filter.phase] } : {}),
      });
      return all.filter((r) => canView(who, r));
    },

    async approve(who: Identity, id: string, comment: string | null): Promise<AccessRequest> {
      const saved = await withLock(id, async () => {
        const next = approve(await load(who, id), who, comment, clock.now());
        const events = [event(who, next, 'ApprovalRecorded', { comment })];
        if (next.phase === 'Approved')
          events.push(event(who, next, 'RequestApproved', { approvers: next.approvals }));
        return next.phase === 'Approved' ? store.updateRequest(next, events) : saveAndTrack(next, events);
      });
      return saved.phase === 'Approved' ? settleNow(saved) : saved;
    },

    deny(who: Identity, id: string, comment: string | null): Promise<AccessRequest> {
      return withLock(id, async () => {
        const next = deny(await load(who, id), who, comment, clock.now());
        return saveAndTrack(next, [event(who, next, 'RequestDenied', { comment })]);
      });
    },

    cancel(who: Identity, id: string): Promise<AccessRequest> {
      return withLock(id, async () => {
        const r = await load(who, id);
        if (r.spec.requester !== who.user && !isAdmin(who)) {
          throw new Forbidden('only the requester or an admin may cancel a request');
        }
        const next = transition(r, 'Canceled', clock.now(), `canceled by ${who.user}`);
        return saveAndTrack(next, [event(who, next, 'RequestCanceled')]);
      });
    },

    async revoke(who: Identity, id: string, reason: string | null): Promise<AccessRequest> {
      const intent = await withLock(id, async () => {
        const r = await load(who, id);
        if (r.spec.requester !== who.user && !isApprover(r, who) && !isAdmin(who)) {
          throw new Forbidden('only the requester, an approver of the request or an admin may revoke it');
        }
        if (r.phase !== 'Active' && r.phase !== 'Approved') {
          throw new Conflict(`request ${id} is ${r.phase}; only Approved or Active access can be revoked`);
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
