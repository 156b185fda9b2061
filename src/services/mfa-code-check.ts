import type { AuditEventInput } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import { OtpRefused } from '../domain/errors.js';
import type { MfaEnrolment, Store } from './ports.js';
import { totpStep } from './totp.js';

/** Encrypts TOTP secrets at rest (adapters/crypto/secret-box). */
export interface SecretSealer {
  seal(plain: string): string;
  open(sealed: string): string;
}

/** What a step-up is for, as the audit trail records it. */
export interface MfaPurpose {
  /** "request under policy X", "approval under policy X" */
  what: string;
  requestId?: string | null;
}

export const maxFailures = 5;
export const lockoutMs = 15 * 60_000;

/** An MFA audit event: about a user, never about a cluster; it names the request when there is one. */
export function mfaEvent(
  time: Date,
  actor: string,
  action: string,
  details: Record<string, unknown>,
  requestId?: string | null,
): AuditEventInput {
  return { time, actor, action, requestId: requestId ?? null, cluster: null, details };
}

export interface CodeCheckDeps {
  store: Pick<Store, 'saveMfaEnrolment' | 'appendAudit'>;
  box: SecretSealer;
  clock: Clock;
}

/**
 * One code checked against an enrolment, under the caller's per-user lock: the window (±1 step), replay
 * (a step no later than the last accepted) and lockout (five wrong in a row lock for 15 minutes, and while
 * locked nothing is checked). Every outcome is saved and audited before it is answered.
 */
export function createCodeCheck({ store, box, clock }: CodeCheckDeps) {
  const event = (user: string, action: string, details: Record<string, unknown>, requestId?: string | null) =>
    mfaEvent(clock.now(), user, action, details, requestId);

  /**
   * Checks one code against the enrolment and saves the outcome (the step used, or one failure more and
   * perhaps a lockout) with its audit events. Throws OtpRefused unless the code is good.
   */
  return async function check(e: MfaEnrolment, code: string, purpose: MfaPurpose): Promise<MfaEnrolment> {
    const now = clock.now();
    const detail = { user: e.user, for: purpose.what };
    if (e.lockedUntil && e.lockedUntil > now) {
      await store.appendAudit([
        event(e.user, 'MfaFailed', { ...detail, reason: 'locked' }, purpose.requestId),
      ]);
      throw new OtpRefused(
        `one-time codes of ${e.user} are locked until ${e.lockedUntil.toISOString()} after ${maxFailures} wrong codes`,
        'otp-locked',
      );
    }
    const step = await totpStep(box.open(e.sealedSecret), code, now);
    const replay = step !== null && e.lastStep !== null && step <= e.lastStep;
    if (step !== null && !replay) {
      return store.saveMfaEnrolment({ ...e, lastStep: step, failures: 0, lockedUntil: null }, [
        event(e.user, 'MfaVerified', detail, purpose.requestId),
      ]);
    }
    // A replayed code counts as a wrong one: whoever sends it did not read it off the device just now.
    const reason = replay ? 'replay' : 'wrong-code';
    const failures = e.failures + 1;
    const events = [event(e.user, 'MfaFailed', { ...detail, reason, failures }, purpose.requestId)];
    if (failures >= maxFailures) {
      const lockedUntil = new Date(now.getTime() + lockoutMs);
      events.push(event(e.user, 'MfaLocked', { user: e.user, until: lockedUntil.toISOString() }));
      await store.saveMfaEnrolment({ ...e, failures: 0, lockedUntil }, events);
      throw new OtpRefused(
        `wrong one-time code; that was the ${maxFailures}th in a row: codes of ${e.user} are locked until ${lockedUntil.toISOString()}`,
        'otp-locked',
      );
    }
    await store.saveMfaEnrolment({ ...e, failures, lockedUntil: null }, events);
    const left = `${maxFailures - failures} attempt(s) left before a ${lockoutMs / 60_000}-minute lockout`;
    throw new OtpRefused(
      replay
        ? `this one-time code was used already; wait for the next one (${left})`
        : `wrong one-time code (${left})`,
      'otp-invalid',
    );
  };
}
