import type { AccessRequest } from '../domain/access-request.js';
import { requestEvent, systemActor } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import { judgeTicket, type TicketStatus } from '../domain/ticket.js';
import type { GrantService } from './grant-service.js';
import type { KeyedLock } from './keyed-lock.js';
import type { Store } from './ports.js';
import { recordedRequirement, type TicketCheck } from './ticket-check.js';

export interface TicketRevalidationDeps {
  store: Pick<Store, 'listRequests' | 'getRequest' | 'updateRequest' | 'appendAudit'>;
  check: TicketCheck;
  grants: Pick<GrantService, 'settle'>;
  withLock: KeyedLock;
  clock: Clock;
  /** Told of every request this changes, so timers follow it. */
  onChange: (request: AccessRequest) => void;
  onError: (requestId: string, error: Error) => void;
}

export interface RecheckReport {
  checked: number;
  revoked: string[];
  /** Providers that could not answer: their grants were left alone. */
  unavailable: string[];
}

const ticketKey = (t: Pick<TicketStatus, 'provider' | 'id'>) => `${t.provider}\u0000${t.id}`;

/**
 * Re-checks the tickets live grants stand on (no anchor does this): a ticket closed, resolved, reassigned
 * away from the requester or past its window ends every grant tied to it, revoked by system:elevate with
 * TicketInvalidated saying what changed. A provider that cannot answer leaves grants alone — an outage of
 * the ticket system must not lock people out mid-incident — and is audited once per outage.
 */
export function createTicketRevalidation(deps: TicketRevalidationDeps) {
  const { store, clock } = deps;
  /** Providers known to be down, so the outage is audited once, not at every pass. */
  const down = new Set<string>();

  async function noteOutage(provider: string, error: string | null): Promise<void> {
    const now = clock.now();
    if (error !== null && !down.has(provider)) {
      down.add(provider);
      await store.appendAudit([
        {
          time: now,
          actor: systemActor,
          action: 'TicketProviderUnavailable',
          requestId: null,
          cluster: null,
          details: { provider, error, effect: 'active grants are kept; new requests needing it are refused' },
        },
      ]);
    } else if (error === null && down.delete(provider)) {
      await store.appendAudit([
        {
          time: now,
          actor: systemActor,
          action: 'TicketProviderRecovered',
          requestId: null,
          cluster: null,
          details: { provider },
        },
      ]);
    }
  }

  /** Records why the ticket no longer holds and asks for the grant to end; the grant service removes it. */
  async function invalidate(id: string, now: Date, fresh: TicketStatus, reason: string): Promise<boolean> {
    const intent = await deps.withLock(id, async () => {
      const r = await store.getRequest(id);
      if (r?.phase !== 'Active' || r.revocation || !r.ticket) return null;
      const next: AccessRequest = {
        ...r,
        ticket: { ...fresh, reason },
        revocation: { by: systemActor, reason, at: now },
        updatedAt: now,
        message: `revocation requested by ${systemActor}: ${reason}`,
      };
      const details = {
        provider: fresh.provider,
        ticket: fresh.id,
        reason,
        was: r.ticket.status,
        now: fresh.status,
      };
      return store.updateRequest(next, [requestEvent(next, systemActor, 'TicketInvalidated', now, details)]);
    });
    if (!intent) return false;
    try {
      deps.onChange(await deps.grants.settle(id));
    } catch (e) {
      // The intent is saved: the scheduler retries the removal.
      deps.onError(id, e as Error);
      deps.onChange(intent);
    }
    return true;
  }

  /** Re-checks the given grants, one lookup per distinct ticket. */
  async function recheck(grants: AccessRequest[]): Promise<RecheckReport> {
    const report: RecheckReport = { checked: 0, revoked: [], unavailable: [] };
    const byTicket = new Map<string, AccessRequest[]>();
    for (const r of grants) {
      if (r.phase !== 'Active' || !r.ticket || r.revocation) continue;
      const key = ticketKey(r.ticket);
      byTicket.set(key, [...(byTicket.get(key) ?? []), r]);
    }
    for (const tied of byTicket.values()) {
      const recorded = (tied[0] as AccessRequest).ticket as TicketStatus;
      const clusters = [...new Set(tied.flatMap((r) => r.spec.targets.map((t) => t.cluster)))];
      const facts = await deps.check.lookup(recorded.provider, recorded.id, {
        user: (tied[0] as AccessRequest).spec.requester,
        clusters,
      });
      report.checked += tied.length;
      if ('unavailable' in facts) {
        if (!report.unavailable.includes(recorded.provider)) report.unavailable.push(recorded.provider);
        await noteOutage(recorded.provider, facts.unavailable);
        continue;
      }
      await noteOutage(recorded.provider, null);
      const now = clock.now();
      for (const r of tied) {
        const rule = recordedRequirement(r.ticket as TicketStatus);
        const verdict = judgeTicket(facts.state, rule, r.spec.requester, now, recorded.provider);
        if (verdict.valid) continue;
        const fresh: TicketStatus = {
          ...(r.ticket as TicketStatus),
          checkedAt: now,
          valid: false,
          status: facts.state.status,
          notAfter: facts.state.notAfter,
        };
        if (await invalidate(r.id, now, fresh, verdict.reason)) report.revoked.push(r.id);
      }
    }
    return report;
  }

  return {
    /** Every Active grant tied to a ticket (the periodic pass). */
    async recheckAll(): Promise<RecheckReport> {
      return recheck(await store.listRequests({ phases: ['Active'] }));
    },
    /** The grants tied to one ticket, now (a ticket system's callback). */
    async recheckTicket(provider: string, ticket: string): Promise<RecheckReport> {
      const active = await store.listRequests({ phases: ['Active'] });
      const key = ticketKey({ provider, id: ticket });
      // Ticket numbers are matched as the system spells them, whatever the case the callback used.
      return recheck(
        active.filter(
          (r) => r.ticket && ticketKey({ ...r.ticket, id: r.ticket.id }).toUpperCase() === key.toUpperCase(),
        ),
      );
    },
  };
}

export type TicketRevalidation = ReturnType<typeof createTicketRevalidation>;
