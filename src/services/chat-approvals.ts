import type { AccessRequest } from '../domain/access-request.js';
import type { Clock } from '../domain/clock.js';
import { DomainError } from '../domain/errors.js';
import type { Identity } from '../domain/identity.js';
import type { AddressBook } from './notifications.js';
import type { PeopleDirectory } from './people-directory.js';
import type { RequestService } from './request-service.js';

/** A person must have signed in to Elevate this recently for a chat click to stand for them. */
const signedInWithinMs = 7 * 24 * 60 * 60_000;

export interface ChatDecision {
  /** The clicker's e-mail address, as the chat service's profile holds it; null: it shows none. */
  address: string | null;
  requestId: string;
  decision: 'approve' | 'deny';
  /** Where the click came from, for the audit trail (slack). */
  via: string;
}

export type ChatOutcome =
  | { done: true; request: AccessRequest; by: string }
  | { done: false; message: string };

/**
 * Approve/Deny from a chat message: the clicker is mapped to an Elevate identity by e-mail, with their
 * groups as of their last sign-in, and judged exactly like an approval through the API (never the
 * requester, only the policy's approvers). What a click cannot carry — a one-time code, a comment — is
 * refused with what to do instead.
 */
export function createChatApprovals(deps: {
  requests: Pick<RequestService, 'approve' | 'deny' | 'get'>;
  people: PeopleDirectory;
  addresses: AddressBook;
  clock: Clock;
}) {
  async function identityOf(address: string | null): Promise<Identity | string> {
    if (!address) return 'your chat profile shows no e-mail address, so Elevate cannot tell who you are';
    const user = deps.addresses.userOf(address);
    const known = await deps.people.lookup(user);
    if (!known) return `${address} is not known to Elevate: sign in once (elevate login) and try again`;
    if (deps.clock.now().getTime() - known.seenAt.getTime() > signedInWithinMs)
      return `${known.user} has not signed in to Elevate for over 7 days: sign in (elevate login) and try again`;
    return { user: known.user, groups: known.groups, source: known.source };
  }

  return {
    async decide(d: ChatDecision): Promise<ChatOutcome> {
      const who = await identityOf(d.address);
      if (typeof who === 'string') return { done: false, message: who };
      const cli = `elevate ${d.decision} ${d.requestId}`;
      try {
        const request = await deps.requests.get(who, d.requestId);
        if (d.decision === 'approve' && request.policy.approvalRequiresMfa)
          return { done: false, message: `this approval needs your one-time code: run ${cli} --otp CODE` };
        if (request.policy.requireComment)
          return {
            done: false,
            message: `policy ${request.policy.name} asks for a comment: run ${cli} --comment "…"`,
          };
        const saved =
          d.decision === 'approve'
            ? await deps.requests.approve(who, d.requestId, null, undefined, d.via)
            : await deps.requests.deny(who, d.requestId, null, d.via);
        return { done: true, request: saved, by: who.user };
      } catch (e) {
        // Refusals the API would answer with 403/404/409 (the requester, not an approver, already decided).
        if (e instanceof DomainError) return { done: false, message: e.message };
        throw e;
      }
    },
  };
}
export type ChatApprovals = ReturnType<typeof createChatApprovals>;
