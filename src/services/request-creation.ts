import type { AccessRequest, AccessRequestSpec } from '../domain/access-request.js';
import { modeInForce } from '../domain/breakglass.js';
import type { Clock } from '../domain/clock.js';
import { Forbidden, Invalid, NotFound } from '../domain/errors.js';
import { defaultCredentialNamespace } from '../domain/grant-mechanism.js';
import { type Identity, sourceOf } from '../domain/identity.js';
import { decide } from '../domain/policy/decide.js';
import { checkLimits } from '../domain/policy/limits.js';
import type { DecisionFacts, Policy, PolicySet, Refusal } from '../domain/policy/types.js';
import { type BindingSubject, clusterSubject, noPrefixes } from '../domain/subject.js';
import { namespaceKey, type Target, targetKey } from '../domain/target.js';
import { gatherDecisionFacts, gatherUsage, hasLimits } from './decision-facts.js';
import type { KeyedLock } from './keyed-lock.js';
import { type MfaVerifier, mfaUnavailable } from './mfa-service.js';
import type { ClusterDirectory, ClusterGateway, PolicySource, Store } from './ports.js';
import { createRequestRecorder, type Evaluation, requestFor } from './request-record.js';
import { createTicketCheck, requirementOf, type TicketCheck, ticketStatusOf } from './ticket-check.js';

/** What a requester asks for; who asks comes from authentication. */
export interface NewRequestInput {
  /** Empty when a profile names them. */
  targets: Target[];
  profile: string | null;
  /** null: the deciding policy's default. */
  durationMs: number | null;
  reason: string;
  ticket: string | null;
  /** When access is to begin; null: as soon as approved. Checked by the request service. */
  startTime: Date | null;
  /** A fresh one-time code (Elevate-OTP), for a policy that requires MFA; used up when the request is made. */
  otp?: string;
  /** Made by an integration for the person (who is then the person): judged with `via` = the integration. */
  onBehalf?: { integration: string; requestedBy: string };
  /** What makes a request from outside unique (spec.externalKey): the same call twice creates it once. */
  externalKey?: string;
}

export interface RequestCreationDeps {
  store: Pick<Store, 'createRequest' | 'listRequests' | 'lockAcrossServers' | 'getBreakglassMode'>;
  /** The in-process half of the lock that serialises decisions under limits (see decideAndRecord). */
  withLock: KeyedLock;
  clusters: Pick<ClusterGateway, 'namespaceLabels' | 'roleRules'>;
  policySource: PolicySource;
  /** The clusters a request may name, each with how its API server names OIDC users. */
  directory: Pick<ClusterDirectory, 'get'>;
  clock: Clock;
  /** Checks (and uses up) one-time codes; absent: MFA is not configured, and a policy requiring it refuses. */
  mfa?: MfaVerifier;
  /** Looks tickets up in their providers; absent: no provider is configured (the config refuses policies naming one). */
  tickets?: TicketCheck;
  /** How long a review of a grant made in ticket-system-down mode may stay open (breakglass.reviewDeadline). */
  reviewDeadlineMs?: number;
}

const limitsLockKey = 'elevate:request-limits';

/** A policy that sets no limit, for a request whose deciding policy a reload removed. */
const unlimitedPolicy: Policy = {
  name: '',
  priority: 0,
  source: '',
  match: {},
  decision: 'approval',
  maxDurationMs: Number.POSITIVE_INFINITY,
  allowEscalatingRoles: [],
};

/**
 * Making a request: the targets (asked for one by one, or a profile's), the facts about them read from
 * their clusters, one decision by the policies in force, and the request stored — a refused one too, in
 * phase Denied, so attempts show in `list` and the audit trail.
 */
export function createRequestCreation(deps: RequestCreationDeps) {
  const { clock } = deps;

  /** The targets asked for; one named twice is one target (one binding), as in a set. */
  function targetsOf(set: PolicySet, input: NewRequestInput): Target[] {
    if (input.profile === null) return [...new Map(input.targets.map((t) => [targetKey(t), t])).values()];
    if (input.targets.length > 0) throw new Invalid('give a profile or targets, not both', 'spec.profile');
    const profile = set.profiles.find((p) => p.name === input.profile);
    if (!profile) {
      // Like a role the cluster lacks: the request is well formed, the config just has no such profile.
      const known = set.profiles.map((p) => p.name).join(', ') || 'none are configured';
      throw new NotFound(`profile ${input.profile} not found (profiles: ${known})`, 'spec.profile');
    }
    return profile.targets;
  }

  function validateShape(targets: Target[], input: NewRequestInput): void {
    if (targets.length === 0) throw new Invalid('give at least one target', 'spec.targets');
    targets.forEach((t, i) => {
      const field = targets.length === 1 ? 'spec' : `spec.targets[${i}]`;
      if (!deps.directory.get(t.cluster)) {
        throw new Invalid(`unknown cluster ${t.cluster}`, `${field}.cluster`);
      }
      if (t.roleKind === 'Role' && t.namespace === null) {
        throw new Invalid('a Role is namespaced: give a namespace, not cluster-wide', `${field}.namespace`);
      }
    });
    if (input.reason.trim() === '') throw new Invalid('a reason is required', 'spec.reason');
  }

  /**
   * A grant never points at nothing: a namespace or role the cluster does not have is NotFound (404), as
   * the API server itself answers; the request is well formed, the cluster just lacks what it names.
   */
  function requireExisting(targets: Target[], facts: Awaited<ReturnType<typeof gatherDecisionFacts>>) {
    targets.forEach((t, i) => {
      const field = targets.length === 1 ? 'spec' : `spec.targets[${i}]`;
      if (t.namespace !== null && facts.namespaceLabels?.get(namespaceKey(t.cluster, t.namespace)) === null) {
        throw new NotFound(
          `namespace ${t.namespace} not found in cluster ${t.cluster}`,
          `${field}.namespace`,
        );
      }
      if (facts.roleRules?.get(targetKey(t)) === null) {
        const where = t.roleKind === 'Role' ? ` in namespace ${t.namespace}` : '';
        throw new NotFound(
          `${t.roleKind} ${t.role} not found${where} in cluster ${t.cluster}`,
          `${field}.role`,
        );
      }
    });
  }

  /** The subject each target cluster's binding names: the requester exactly as that API server knows them. */
  function subjectsOf(who: Identity, targets: Target[]): Record<string, BindingSubject> {
    const out: Record<string, BindingSubject> = {};
    for (const { cluster } of targets) {
      out[cluster] ??= clusterSubject(who, cluster, deps.directory.get(cluster)?.subjects ?? noPrefixes);
    }
    return out;
  }

  /** Where each target cluster keeps its per-grant ServiceAccounts, frozen on the request. */
  function credentialNamespacesOf(set: PolicySet, targets: Target[]): Record<string, string> {
    return Object.fromEntries(
      targets.map((t) => [
        t.cluster,
        set.clusterGrants?.[t.cluster]?.credentialNamespace ?? defaultCredentialNamespace,
      ]),
    );
  }

  /** Everything a decision needs, read now: the policy set in force, the targets, the live facts. */
  async function prepare(who: Identity, input: NewRequestInput) {
    const set = deps.policySource.current();
    const targets = targetsOf(set, input);
    validateShape(targets, input);
    subjectsOf(who, targets); // a ServiceAccount asking for another cluster is refused before any lookup
    const now = clock.now();
    const facts = await gatherDecisionFacts(deps, set, who.user, targets, now);
    requireExisting(targets, facts);
    // Ticket-system-down mode, as stored now: while it is in force tickets are waived and grants flagged.
    const mode = await deps.store.getBreakglassMode();
    const prepared: Prepared = {
      set,
      targets,
      now,
      facts,
      waivedSince: modeInForce(mode, now) ? mode.since : null,
    };
    const ticket = await lookUpTicket(who, input, prepared);
    return ticket ? { ...prepared, facts: { ...facts, ticket } } : prepared;
  }

  /**
   * The ticket as the provider of the policy that decides says it is, when that policy names one: decided
   * once without it to learn which policy that is, then asked (before any lock is taken: a slow ticket
   * system must not hold up other requests' decisions).
   */
  async function lookUpTicket(who: Identity, input: NewRequestInput, prepared: Prepared) {
    if (input.ticket === null || input.ticket === '' || prepared.waivedSince !== null) return undefined;
    const { decision, policy } = judge(who, input, prepared);
    const provider = policy?.requireTicket?.provider;
    if (decision.refusal || provider === undefined) return undefined;
    const check = deps.tickets ?? createTicketCheck({ providers: new Map() });
    const clusters = [...new Set(prepared.targets.map((t) => t.cluster))];
    return check.lookup(provider, input.ticket, { user: who.user, clusters });
  }

  /** Judges the request with what `prepare` read; nothing is stored. */
  function judge(who: Identity, input: NewRequestInput, { set, targets, now, facts, waivedSince }: Prepared) {
    const decision = decide(
      set,
      {
        requester: who.user,
        groups: who.groups,
        targets,
        profile: input.profile,
        durationMs: input.durationMs,
        ticket: input.ticket,
        startTime: input.startTime,
        ...(waivedSince !== null ? { ticketsWaived: true } : {}),
        ...(input.onBehalf ? { via: input.onBehalf.integration } : {}),
      },
      facts,
    );
    const spec: AccessRequestSpec = {
      requester: who.user,
      requesterGroups: who.groups,
      targets,
      profile: input.profile,
      durationMs: decision.durationMs,
      reason: input.reason,
      ticket: input.ticket,
      startTime: input.startTime,
      requesterSource: sourceOf(who),
      subjects: subjectsOf(who, targets),
      ...(decision.mechanism ? { mechanism: decision.mechanism } : {}),
      ...(decision.mechanism === 'credential'
        ? { credentialNamespaces: credentialNamespacesOf(set, targets) }
        : {}),
      ...(input.onBehalf ? { requestedBy: input.onBehalf.requestedBy, via: input.onBehalf.integration } : {}),
      ...(input.externalKey ? { externalKey: input.externalKey } : {}),
    };
    const policy = set.policies.find((p) => p.name === decision.policy?.name);
    const requirement = policy?.requireTicket ? requirementOf(policy.requireTicket) : null;
    const ticket = requirement ? ticketStatusOf(facts.ticket, requirement, who.user, now) : null;
    return {
      spec,
      decision,
      now,
      allowEscalatingRoles: policy?.allowEscalatingRoles ?? [],
      policy,
      ticket,
      waivedSince,
    };
  }

  async function evaluate(who: Identity, input: NewRequestInput) {
    return judge(who, input, await prepare(who, input));
  }

  /**
   * Decides and stores one request at a time, on every server, while the set has limits or cooldowns:
   * two requests judged at the same moment would otherwise both see room for one more. The live grants
   * are read again under the lock; the cluster facts read before it still stand.
   */
  async function decideAndRecord(who: Identity, input: NewRequestInput): Promise<AccessRequest> {
    const prepared = await prepare(who, input);
    if (!hasLimits(prepared.set)) return stepUpAndRecord(who, input, judge(who, input, prepared));
    return whileLimitsHold(async () => {
      const usage = await gatherUsage(deps, prepared.set, who.user, prepared.now);
      const evaluation = judge(who, input, { ...prepared, facts: { ...prepared.facts, usage } });
      return stepUpAndRecord(who, input, evaluation);
    });
  }

  /**
   * A policy that requires MFA takes the requester's fresh code before anything is stored; the check uses
   * the code up (and audits it). A refused request is recorded without one: there is nothing to protect.
   */
  async function stepUpAndRecord(who: Identity, input: NewRequestInput, evaluation: Evaluation) {
    const { decision } = evaluation;
    if (decision.requireMfa && !decision.refusal && input.onBehalf) {
      throw new Forbidden(
        `policy ${decision.policy?.name} requires the requester's own one-time code: a request made on their behalf (by ${input.onBehalf.integration}) cannot carry it`,
        'spec.requester',
      );
    }
    if (decision.requireMfa && !decision.refusal) {
      await (deps.mfa ?? mfaUnavailable).verify(who.user, input.otp, {
        what: `request under policy ${decision.policy?.name}`,
      });
    }
    return record(who, evaluation);
  }

  /** Runs work while no other decision that counts live grants runs, on this server or another. */
  function whileLimitsHold<T>(work: () => Promise<T>): Promise<T> {
    return deps.withLock(limitsLockKey, () => deps.store.lockAcrossServers(limitsLockKey, work));
  }

  /**
   * The limit or cooldown that granting an approved request now would break, if any: limits are judged
   * when a request is made and again when its quorum is reached, since grants made meanwhile count too.
   * Its own policy's limits (as in force now; none if that policy is gone) and the global ones.
   */
  async function limitRefusal(request: AccessRequest): Promise<Refusal | null> {
    const set = deps.policySource.current();
    if (!hasLimits(set)) return null;
    const now = clock.now();
    const usage = await gatherUsage(deps, set, request.spec.requester, now, request.id);
    const policy = set.policies.find((p) => p.name === request.policy.name) ?? {
      ...unlimitedPolicy,
      name: request.policy.name,
    };
    const { spec } = request;
    const input = {
      requester: spec.requester,
      groups: spec.requesterGroups,
      targets: spec.targets,
      profile: spec.profile,
      durationMs: spec.durationMs,
      ticket: spec.ticket,
    };
    return checkLimits(policy, input, set.limits, usage, now);
  }

  interface Prepared {
    set: PolicySet;
    targets: Target[];
    now: Date;
    facts: DecisionFacts;
    /** When ticket-system-down mode went on, while it is in force; null: tickets are required as usual. */
    waivedSince: Date | null;
  }

  const { record } = createRequestRecorder(deps);

  return {
    /** `elevate request --dry-run`: the request as it would be made, with its decision; nothing stored. */
    async dryRun(who: Identity, input: NewRequestInput): Promise<AccessRequest> {
      return requestFor(await evaluate(who, input));
    },

    /** Makes the request: decided by the policies in force, stored as decided. */
    create: decideAndRecord,
    whileLimitsHold,
    limitRefusal,
  };
}
