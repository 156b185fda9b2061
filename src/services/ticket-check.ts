import type { TicketFacts } from '../domain/policy/types.js';
import { judgeTicket, type TicketRequirement, type TicketStatus } from '../domain/ticket.js';
import { type TicketLookupContext, type TicketProvider, TicketProviderError } from './ports.js';

/** Looks tickets up for decisions and re-checks; a system that cannot answer becomes `unavailable` (fail closed). */
export interface TicketCheck {
  lookup(provider: string, ticket: string, context: TicketLookupContext): Promise<TicketFacts>;
}

export interface TicketCheckDeps {
  providers: ReadonlyMap<string, TicketProvider>;
  /** Told of each lookup's outcome, for metrics and outage tracking. */
  onLookup?: (provider: string, outcome: 'ok' | 'error', error?: Error) => void;
}

export function createTicketCheck({ providers, onLookup }: TicketCheckDeps): TicketCheck {
  return {
    async lookup(name, ticket, context) {
      const provider = providers.get(name);
      // The config cross-checks policies against providers, so only a reload race gets here.
      if (!provider) return { provider: name, unavailable: `no ticket provider ${name} is configured` };
      try {
        const state = await provider.lookup(ticket, context);
        onLookup?.(name, 'ok');
        return { provider: name, state };
      } catch (e) {
        if (!(e instanceof TicketProviderError)) throw e;
        onLookup?.(name, 'error', e);
        return { provider: name, unavailable: e.message };
      }
    },
  };
}

/** The ticket as recorded on a request (status.ticket), judged at `now`; null when nothing was looked up. */
export function ticketStatusOf(
  facts: TicketFacts | undefined,
  requirement: TicketRequirement,
  requester: string,
  now: Date,
): TicketStatus | null {
  if (facts === undefined || 'unavailable' in facts) return null;
  const { state, provider } = facts;
  const verdict = judgeTicket(state, requirement, requester, now, provider);
  return {
    provider,
    id: state.id,
    checkedAt: now,
    valid: verdict.valid,
    status: state.status,
    notAfter: state.notAfter,
    ...(state.url ? { url: state.url } : {}),
    ...(verdict.valid ? {} : { reason: verdict.reason }),
    ...(requirement.assignedToRequester ? { assignedToRequester: true } : {}),
  };
}

/** The requirement a recorded ticket is re-checked by. */
export function recordedRequirement(ticket: TicketStatus): TicketRequirement {
  return {
    provider: ticket.provider,
    pattern: null,
    assignedToRequester: ticket.assignedToRequester === true,
  };
}

/** A policy's requireTicket as the judgement reads it, when it names a provider. */
export function requirementOf(rule: {
  pattern: string | null;
  provider?: string;
  assignedToRequester?: boolean;
}): TicketRequirement | null {
  if (rule.provider === undefined) return null;
  return {
    provider: rule.provider,
    pattern: rule.pattern,
    assignedToRequester: rule.assignedToRequester === true,
  };
}
