/**
 * Rafay's BreakGlassAccess API, answered by Elevate: a ticket system that has done its own approval posts
 * `{metadata.name: USER, spec.groups[].groupExpiry[]: {name: PROFILE, expiry: HOURS, startTime}}` and the
 * user gets each profile for that long from that time, as requests made on their behalf (judged by policy
 * with match.via). Posting the same payload again creates nothing new; DELETE takes the access back.
 */
import type { AccessRequest } from '../domain/access-request.js';
import type { Clock } from '../domain/clock.js';
import { Conflict, Forbidden, NotFound } from '../domain/errors.js';
import type { Identity } from '../domain/identity.js';
import type { OnBehalf } from './on-behalf.js';
import type { PolicySource, Store } from './ports.js';
import type { RequestInput, RequestService } from './request-service.js';

export interface BreakGlassAccessEntry {
  /** spec.groups[i].groupExpiry[j], for error fields. */
  field: string;
  profile: string;
  hours: number;
  /** As written in the payload (part of what makes the entry unique). */
  startTime: string;
}

export interface BreakGlassAccessDeps {
  requests: Pick<RequestService, 'create' | 'dryRun' | 'list' | 'revoke' | 'cancel'>;
  onBehalf: Pick<OnBehalf, 'actFor'>;
  store: Pick<Store, 'findRequestByExternalKey' | 'listRequests'>;
  policySource: PolicySource;
  clock: Clock;
}

const keyPrefix = (user: string) => `breakglassaccess:${user}:`;
export const entryKey = (user: string, e: Pick<BreakGlassAccessEntry, 'profile' | 'startTime'>) =>
  `${keyPrefix(user)}${e.profile}:${e.startTime}`;

export function createBreakGlassAccessService(deps: BreakGlassAccessDeps) {
  /** The request an entry becomes: a start now or past is now (Rafay's meaning), a later one is scheduled. */
  function inputOf(who: Identity, user: string, e: BreakGlassAccessEntry): RequestInput {
    const start = new Date(e.startTime);
    return {
      onBehalfOf: user,
      profile: e.profile,
      targets: [],
      durationMs: Math.round(e.hours * 3_600_000),
      reason: `BreakGlassAccess via ${who.user}`,
      ticket: null,
      startTime: start.getTime() > deps.clock.now().getTime() ? start : null,
      externalKey: entryKey(user, e),
    };
  }

  return {
    /**
     * Everything is checked before anything is made: the integration may act for the user, every profile
     * exists, and policy would grant every entry (judged as a dry run). Then each entry not made before is
     * made. Returns the requests and whether any was new.
     */
    async grant(who: Identity, user: string, entries: BreakGlassAccessEntry[]) {
      await deps.onBehalf.actFor(who, user, 'metadata.name');
      const profiles = new Set(deps.policySource.current().profiles.map((p) => p.name));
      for (const e of entries) {
        if (!profiles.has(e.profile)) throw new NotFound(`profile ${e.profile} not found`, `${e.field}.name`);
      }
      const pending: { entry: BreakGlassAccessEntry; input: RequestInput }[] = [];
      const out: AccessRequest[] = [];
      for (const entry of entries) {
        const existing = await deps.store.findRequestByExternalKey(entryKey(user, entry));
        if (existing) {
          out.push(existing);
          continue;
        }
        const input = inputOf(who, user, entry);
        const judged = await deps.requests.dryRun(who, input);
        if (judged.phase === 'Denied') {
          throw new Forbidden(`${entry.field}: ${judged.message}`, entry.field);
        }
        pending.push({ entry, input });
      }
      let created = 0;
      for (const { entry, input } of pending) {
        try {
          out.push(await deps.requests.create(who, input));
          created++;
        } catch (e) {
          // The same payload posted twice at once: the other call made it.
          if (!(e instanceof Conflict)) throw e;
          const made = await deps.store.findRequestByExternalKey(entryKey(user, entry));
          if (!made) throw e;
          out.push(made);
        }
      }
      return { requests: out, created };
    },

    /** Ends every live grant made this way for the user: revoked if granted, canceled if still pending. */
    async revokeAll(who: Identity, user: string): Promise<AccessRequest[]> {
      await deps.onBehalf.actFor(who, user, 'user');
      const live = (
        await deps.store.listRequests({
          requester: user,
          phases: ['Pending', 'Approved', 'Scheduled', 'Active'],
        })
      ).filter((r) => r.spec.externalKey?.startsWith(keyPrefix(user)));
      const out: AccessRequest[] = [];
      for (const r of live) {
        out.push(
          r.phase === 'Pending'
            ? await deps.requests.cancel(who, r.id)
            : await deps.requests.revoke(who, r.id, `BreakGlassAccess deleted by ${who.user}`),
        );
      }
      return out;
    },
  };
}

export type BreakGlassAccessService = ReturnType<typeof createBreakGlassAccessService>;
