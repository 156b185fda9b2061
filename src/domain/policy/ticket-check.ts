/**
 * What a policy's requireTicket demands, judged with what the ticket's provider said (DecisionFacts.ticket):
 * a ticket given, matching the pattern, known and open in the provider (assigned to the requester when
 * asked), and a grant that ends by the ticket's window. Ticket-system-down mode waives all of it, noted.
 */
import { formatDuration } from '../duration.js';
import { judgeTicket } from '../ticket.js';
import { ticketMatches } from './ticket-pattern.js';
import type { DecisionFacts, DecisionInput, Limits, Policy, Refusal } from './types.js';

const ticketRefusal = (message: string): Refusal => ({ kind: 'constraint', field: 'spec.ticket', message });

/** The way out when a ticket system cannot answer, named in the refusal. */
const wayOut =
  'in an emergency use `elevate breakglass`, or ask an admin for ticket-system-down mode (`elevate breakglass mode on`)';

export function checkTicket(
  policy: Policy,
  input: DecisionInput,
  facts: Pick<DecisionFacts, 'now' | 'ticket'>,
  notes: Set<string>,
): Refusal | null {
  const rule = policy.requireTicket;
  if (rule === undefined) return null;
  if (input.ticketsWaived) {
    notes.add(`ticket requirement of policy ${policy.name} waived: ticket-system-down mode is on`);
    return null;
  }
  if (input.ticket === null || input.ticket === '') {
    return ticketRefusal(`policy ${policy.name} requires a ticket (requireTicket)`);
  }
  if (rule.pattern !== null && !ticketMatches(rule.pattern, input.ticket)) {
    return ticketRefusal(
      `ticket ${input.ticket} does not match /${rule.pattern}/ required by policy ${policy.name} (requireTicket.pattern)`,
    );
  }
  const provider = rule.provider;
  if (provider === undefined) return null;
  const looked = facts.ticket;
  if (looked === undefined || looked.provider !== provider) {
    notes.add(`ticket ${input.ticket} not checked with provider ${provider} (offline)`);
    return null;
  }
  if ('unavailable' in looked) {
    return ticketRefusal(
      `ticket provider ${provider} cannot check ticket ${input.ticket} now (${looked.unavailable}): policy ${policy.name} needs it; ${wayOut}`,
    );
  }
  const requirement = {
    provider,
    pattern: rule.pattern,
    assignedToRequester: rule.assignedToRequester === true,
  };
  const verdict = judgeTicket(looked.state, requirement, input.requester, facts.now, provider);
  if (!verdict.valid)
    return ticketRefusal(`${verdict.reason}: policy ${policy.name} requires a valid ticket`);
  return null;
}

/**
 * The duration cut so the grant ends by the ticket's window (counted from the requested start, or now), or
 * a refusal when what is left is below limits.minDuration. Unchanged without a window.
 */
export function fitTicketWindow(
  durationMs: number,
  input: DecisionInput,
  facts: Pick<DecisionFacts, 'now' | 'ticket'>,
  limits: Limits,
  notes: Set<string>,
): { durationMs: number } | { refusal: Refusal } {
  const looked = facts.ticket;
  if (input.ticketsWaived || looked === undefined || !('state' in looked)) return { durationMs };
  const notAfter = looked.state.notAfter;
  if (notAfter === null) return { durationMs };
  const start = input.startTime ?? facts.now;
  const left = notAfter.getTime() - start.getTime();
  if (left >= durationMs) return { durationMs };
  if (left < limits.minDurationMs) {
    return {
      refusal: {
        kind: 'constraint',
        field: 'spec.ticket',
        message: `ticket ${looked.state.id} window ends ${notAfter.toISOString()}: less than the minimum ${formatDuration(limits.minDurationMs)} of access is left (limits.minDuration)`,
      },
    };
  }
  // Whole seconds: a grant's expiry shown to people should not carry milliseconds.
  const cut = Math.floor(left / 1000) * 1000;
  notes.add(
    `duration cut from ${formatDuration(durationMs)} to ${formatDuration(cut)}: ticket ${looked.state.id} window ends ${notAfter.toISOString()}`,
  );
  return { durationMs: cut };
}
