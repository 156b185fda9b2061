import type { DecisionExplanation } from './access-request.js';

/**
 * Domain errors say what went wrong in the domain's words; the HTTP layer maps
 * them to status codes and the CLI prints their message.
 */
export class DomainError extends Error {
  constructor(
    message: string,
    /** The offending field, as a dotted path, when one field is to blame. */
    readonly field?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The caller gave something impossible or malformed. */
export class Invalid extends DomainError {}
/** The caller did not prove who they are (no credential, or one that is not valid). */
export class Unauthenticated extends DomainError {}
/** The caller is known but may not do this. */
export class Forbidden extends DomainError {}
/**
 * A request policy refused (a guardrail, a deny policy, no match, a constraint or a limit): 403, and the
 * problem carries the decision, and the name under which the refused request was recorded (Denied).
 */
export class RequestRefused extends Forbidden {
  constructor(
    message: string,
    field: string | undefined,
    readonly requestId: string | null,
    readonly decision: DecisionExplanation,
  ) {
    super(message, field);
  }
}
/**
 * A policy wants a fresh one-time code (TOTP step-up) and none good came: 403, whose problem `type` ends in
 * the reason, so a client can tell "ask the person for a code" (otp-required) from "enrol first" and from a
 * code that was wrong, replayed or locked out.
 */
export class OtpRefused extends Forbidden {
  constructor(
    message: string,
    readonly reason: 'otp-required' | 'mfa-enrolment-required' | 'otp-invalid' | 'otp-locked',
  ) {
    super(message);
  }
}
/** The thing does not exist (or the caller may not know it exists). */
export class NotFound extends DomainError {}
/** The request is valid but clashes with the current state. */
export class Conflict extends DomainError {}
/** A save lost a race with another write of the same object; reading again and retrying may succeed. */
export class StaleWrite extends Conflict {}
/** An outside system (a cluster) could not be reached; trying again may work. */
export class Unavailable extends DomainError {}
/**
 * An outside system (a cluster) refused for good — forbidden, invalid, not found — so the same call will
 * fail again until someone changes something; unlike Unavailable it is not worth retrying at once.
 */
export class Refused extends DomainError {
  constructor(
    message: string,
    /** The status the outside system answered with (HTTP, for a cluster). */
    readonly status: number,
  ) {
    super(message);
  }
}
