import type { BreakglassConfig } from '../config/integration-config.js';
import type { AccessRequest, AccessRequestSpec } from '../domain/access-request.js';
import { requestEvent, systemActor } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import { formatDuration } from '../domain/duration.js';
import { breakglassPolicyName, breakglassRequest, openReview } from '../domain/emergency-request.js';
import { Forbidden, Invalid, NotFound } from '../domain/errors.js';
import { type Identity, isAmong, sourceOf } from '../domain/identity.js';
import { checkGuardrails } from '../domain/policy/guardrails.js';
import { clusterSubject, noPrefixes } from '../domain/subject.js';
import { describeTarget, type Target, targetKey } from '../domain/target.js';
import { type MfaVerifier, mfaUnavailable } from './mfa-service.js';
import type { ClusterDirectory, ClusterGateway, PolicySource, Store } from './ports.js';
import { newRequestId, newReviewId } from './request-id.js';

export interface BreakglassInput {
  profile: string | null;
  targets: Target[];
  reason: string;
  /** null: breakglass.maxDuration. */
  durationMs: number | null;
  otp?: string;
}

export interface BreakglassDeps {
  config: BreakglassConfig | null;
  store: Pick<Store, 'createRequest'>;
  clusters: Pick<ClusterGateway, 'roleRules' | 'namespaceLabels'>;
  policySource: PolicySource;
  /** The clusters a pull may name, each with how its API server names OIDC users. */
  directory: Pick<ClusterDirectory, 'get'>;
  mfa?: MfaVerifier;
  clock: Clock;
  /** Activates the stored request now (the request service's settle), so the caller has access on return. */
  settle: (request: AccessRequest) => Promise<AccessRequest>;
}

/**
 * Pulling the glass: a roster member takes a profile (or a listed role) at once — no ticket, no approver,
 * no policy — for at most breakglass.maxDuration. The guardrails still hold (cluster-admin, forbidden roles,
 * escalating rules unless breakglass.allowEscalatingRoles), the grant expires like any other, and a
 * post-incident review is opened with it in the same transaction.
 */
export function createBreakglassService(deps: BreakglassDeps) {
  const { clock } = deps;

  function configured(): BreakglassConfig {
    if (!deps.config)
      throw new Forbidden('break-glass is not configured on this server (breakglass in the config)');
    return deps.config;
  }

  function targetsOf(bg: BreakglassConfig, input: BreakglassInput): Target[] {
    if (input.profile !== null) {
      if (input.targets.length > 0) throw new Invalid('give a profile or targets, not both', 'profile');
      if (!bg.profiles.includes(input.profile)) {
        const allowed = bg.profiles.join(', ') || 'none';
        throw new Forbidden(
          `profile ${input.profile} is not a break-glass profile (breakglass.profiles: ${allowed})`,
        );
      }
      const profile = deps.policySource.current().profiles.find((p) => p.name === input.profile);
      if (!profile) throw new NotFound(`profile ${input.profile} not found`, 'profile');
      return profile.targets;
    }
    if (input.targets.length === 0) throw new Invalid('give a profile or a target', 'profile');
    input.targets.forEach((t, i) => {
      if (!deps.directory.get(t.cluster))
        throw new Invalid(`unknown cluster ${t.cluster}`, `targets[${i}].cluster`);
      if (!bg.roles.includes(t.role)) {
        throw new Forbidden(
          `role ${t.role} may not be taken by break-glass (breakglass.roles: ${bg.roles.join(', ') || 'none'})`,
        );
      }
    });
    return input.targets;
  }

  /** The duration asked for, or the cap; longer is cut to the cap (an emergency is no time to re-ask). */
  function durationOf(bg: BreakglassConfig, input: BreakglassInput, notes: string[]): number {
    const { minDurationMs } = deps.policySource.current().limits;
    if (input.durationMs === null) return bg.maxDurationMs;
    if (input.durationMs < minDurationMs) {
      throw new Invalid(
        `duration ${formatDuration(input.durationMs)} is below limits.minDuration`,
        'duration',
      );
    }
    if (input.durationMs <= bg.maxDurationMs) return input.durationMs;
    notes.push(
      `duration cut from ${formatDuration(input.durationMs)} to ${formatDuration(bg.maxDurationMs)} (breakglass.maxDuration)`,
    );
    return bg.maxDurationMs;
  }

  /** Guardrails per target, with the roles' rules and namespaces as the clusters hold them now. */
  async function checkTargets(bg: BreakglassConfig, targets: Target[]): Promise<void> {
    const { guardrails } = deps.policySource.current();
    const pseudoPolicy = { name: breakglassPolicyName, allowEscalatingRoles: bg.allowEscalatingRoles };
    for (const t of targets) {
      if (t.namespace !== null && (await deps.clusters.namespaceLabels(t.cluster, t.namespace)) === null) {
        throw new NotFound(`namespace ${t.namespace} not found in cluster ${t.cluster}`, 'namespace');
      }
      const rules = await deps.clusters.roleRules(t.cluster, t.roleKind, t.role, t.namespace);
      if (rules === null)
        throw new NotFound(`${t.roleKind} ${t.role} not found in cluster ${t.cluster}`, 'role');
      const refusal = checkGuardrails(guardrails, pseudoPolicy, t, rules);
      if (refusal) throw new Forbidden(`${describeTarget(t)}: ${refusal.message}`);
    }
  }

  return {
    async pull(who: Identity, input: BreakglassInput): Promise<AccessRequest> {
      const bg = configured();
      if (!isAmong(who, bg.roster))
        throw new Forbidden(`${who.user} is not on the break-glass roster (breakglass.roster)`);
      const targets = [...new Map(targetsOf(bg, input).map((t) => [targetKey(t), t])).values()];
      if (input.reason.trim() === '') throw new Invalid('a reason is required', 'reason');
      const notes: string[] = [];
      const durationMs = durationOf(bg, input, notes);
      await checkTargets(bg, targets);
      if (bg.requireMfa) {
        await (deps.mfa ?? mfaUnavailable).verify(who.user, input.otp, { what: 'break-glass' });
      }
      const now = clock.now();
      const subjects: AccessRequestSpec['subjects'] = {};
      for (const { cluster } of targets) {
        subjects[cluster] ??= clusterSubject(
          who,
          cluster,
          deps.directory.get(cluster)?.subjects ?? noPrefixes,
        );
      }
      const spec: AccessRequestSpec = {
        requester: who.user,
        requesterGroups: who.groups,
        targets,
        profile: input.profile,
        durationMs,
        reason: input.reason,
        ticket: null,
        startTime: null,
        requesterSource: sourceOf(who),
        subjects,
      };
      const reviewId = newReviewId();
      const request = breakglassRequest(newRequestId(), spec, reviewId, bg.allowEscalatingRoles, notes, now);
      const review = openReview(reviewId, request, 'breakglass', now, bg.reviewDeadlineMs);
      const event = (action: string, details: Record<string, unknown>) =>
        requestEvent(request, who.user, action, now, details);
      await deps.store.createRequest(
        request,
        [
          event('RequestCreated', {
            spec: { ...spec, requesterGroups: undefined },
            policy: breakglassPolicyName,
          }),
          event('BreakGlassActivated', {
            severity: 'high',
            targets,
            duration: formatDuration(durationMs),
            reason: input.reason,
            review: reviewId,
            ...(notes.length > 0 ? { notes } : {}),
          }),
          { ...event('RequestApproved', { policy: breakglassPolicyName }), actor: systemActor },
          event('ReviewOpened', { review: reviewId, kind: 'breakglass', dueAt: review.dueAt.toISOString() }),
        ],
        review,
      );
      return deps.settle(request);
    },
  };
}

export type BreakglassService = ReturnType<typeof createBreakglassService>;
