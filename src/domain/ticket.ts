/**
 * Tickets as Elevate judges them: what a ticket system said about one ticket (a TicketState, read by an
 * adapter), what a policy demands of it (a TicketRequirement), and the verdict. Pure: the lookup happens in
 * adapters/tickets, the judgement here, so it is the same when a request is made and at every re-check.
 */

/** What a policy's `requireTicket` demands. */
export interface TicketRequirement {
  /** The ticket provider (tickets.providers[].name) that must know the ticket; null: any text will do. */
  provider: string | null;
  /** A regular expression the ticket must match; null: any. */
  pattern: string | null;
  /** The ticket must be assigned to the requester (ServiceNow assigned_to / Jira assignee, by email). */
  assignedToRequester: boolean;
}

/** What a ticket system answered about one ticket, normalised by its adapter. */
export interface TicketState {
  /** The ticket as the system names it (INC0010001, OPS-42). */
  id: string;
  /** false: the system has no such ticket (or hides it from Elevate's account). */
  found: boolean;
  /** Open for work: ServiceNow active and not resolved/closed/canceled; Jira status category not done. */
  open: boolean;
  /** The system's own words for its state, for messages and audit: "Resolved (state 6)", "Done". */
  status: string;
  /**
   * Who it is assigned to, lower-cased e-mail addresses (or user names where the system has no e-mail);
   * null: the system does not say (the generic http provider), so an assignment cannot be required.
   */
  assignees: string[] | null;
  /** Access must not begin before this (a change request's planned start); null: no bound. */
  notBefore: Date | null;
  /** Access must end by this (a change request's planned end, the http provider's notAfter); null: no bound. */
  notAfter: Date | null;
  /** A link a person can open, when the system gives one. */
  url?: string;
  /** The system's own explanation (the http provider's `message`). */
  message?: string;
}

/** The ticket as recorded on a request (status.ticket): the last check and what it found. */
export interface TicketStatus {
  provider: string;
  id: string;
  checkedAt: Date;
  /** The verdict at checkedAt. */
  valid: boolean;
  status: string;
  /** The end of the ticket's window when it has one: the grant never outlives it. */
  notAfter: Date | null;
  url?: string;
  /** Why the ticket is no longer valid, once it is not. */
  reason?: string;
  /**
   * The policy asked for the ticket to be assigned to the requester (frozen when the request was made, so
   * re-checks judge it by the same rule).
   */
  assignedToRequester?: boolean;
}

export type TicketVerdict = { valid: true; notAfter: Date | null } | { valid: false; reason: string };

/** Same person, whatever the case of their e-mail address. */
const sameUser = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Whether a ticket lets `requester` have access at `now`. Each reason names the ticket and what is wrong
 * with it, in words the requester can act on.
 */
export function judgeTicket(
  state: TicketState,
  requirement: TicketRequirement,
  requester: string,
  now: Date,
  providerName: string,
): TicketVerdict {
  const which = `ticket ${state.id} in ${providerName}`;
  if (!state.found) return { valid: false, reason: `${which} does not exist` };
  if (!state.open) return { valid: false, reason: `${which} is not open (${state.status})` };
  if (state.notBefore && now < state.notBefore) {
    return {
      valid: false,
      reason: `${which} is not in its window yet: it starts ${state.notBefore.toISOString()}`,
    };
  }
  if (state.notAfter && now >= state.notAfter) {
    return { valid: false, reason: `${which} window ended ${state.notAfter.toISOString()}` };
  }
  if (requirement.assignedToRequester) {
    if (state.assignees === null) {
      return { valid: false, reason: `${which}: ${providerName} does not say who it is assigned to` };
    }
    if (!state.assignees.some((a) => sameUser(a, requester))) {
      const to = state.assignees.length === 0 ? 'nobody' : state.assignees.join(', ');
      return { valid: false, reason: `${which} is assigned to ${to}, not to ${requester}` };
    }
  }
  return { valid: true, notAfter: state.notAfter };
}
