import type { Clock } from '../domain/clock.js';
import { Conflict, Forbidden, NotFound, OtpRefused } from '../domain/errors.js';
import type { Identity } from '../domain/identity.js';
import type { KeyedLock } from './keyed-lock.js';
import { createCodeCheck, type MfaPurpose, mfaEvent, type SecretSealer } from './mfa-code-check.js';
import type { MfaEnrolment, Store } from './ports.js';
import { newTotpSecret, totpUri } from './totp.js';

export type { MfaPurpose, SecretSealer };

/**
 * What the request service needs of MFA: a fresh code checked (and used up) for a user, or a throw —
 * OtpRefused (no code, not enrolled, wrong, replayed, locked) or Conflict (MFA not configured).
 */
export interface MfaVerifier {
  verify(user: string, code: string | undefined, purpose: MfaPurpose): Promise<void>;
}

export interface MfaStatus {
  user: string;
  enrolled: boolean;
  confirmed: boolean;
  /** Set while five wrong codes in a row keep every attempt refused. */
  lockedUntil: Date | null;
}

export interface MfaServiceDeps {
  store: Pick<
    Store,
    'getMfaEnrolment' | 'saveMfaEnrolment' | 'deleteMfaEnrolment' | 'appendAudit' | 'lockAcrossServers'
  >;
  box: SecretSealer;
  clock: Clock;
  withLock: KeyedLock;
  isAdmin: (who: Identity) => boolean;
}

const enrolHint = 'enrol with `elevate mfa enroll`, then `elevate mfa confirm CODE`';

export type MfaService = ReturnType<typeof createMfaService>;

/**
 * TOTP step-up. A user enrols (a new secret, unconfirmed), confirms with a first code, and from then on
 * policies that require MFA take a fresh code from them. A code is good once (its time step must be later
 * than the last one accepted); five wrong codes in a row lock the user's codes for 15 minutes, during which
 * every attempt is refused unchecked. Enrolling again while confirmed takes a current code (a lost device
 * takes an admin's reset instead). Every attempt's outcome is audited; the secret and codes never are.
 */
export function createMfaService(deps: MfaServiceDeps) {
  const { store, box, clock } = deps;

  const exclusive = <T>(user: string, work: () => Promise<T>) =>
    deps.withLock(`mfa:${user}`, () => store.lockAcrossServers(`mfa:${user}`, work));

  const event = (
    actor: string,
    action: string,
    details: Record<string, unknown>,
    requestId?: string | null,
  ) => mfaEvent(clock.now(), actor, action, details, requestId);
  const check = createCodeCheck({ store, box, clock });

  const statusOf = (user: string, e: MfaEnrolment | null, now: Date): MfaStatus => ({
    user,
    enrolled: e !== null,
    confirmed: e?.confirmedAt != null,
    lockedUntil: e?.lockedUntil && e.lockedUntil > now ? e.lockedUntil : null,
  });

  return {
    /**
     * Starts an enrolment: a new secret, unconfirmed, returned once as an otpauth:// URI (and the bare
     * secret for typing in). Over an unconfirmed one it starts afresh; over a confirmed one only with a
     * good current code.
     */
    async enroll(who: Identity, code?: string): Promise<{ uri: string; secret: string }> {
      return exclusive(who.user, async () => {
        let current = await store.getMfaEnrolment(who.user);
        if (current?.confirmedAt) {
          if (code === undefined) {
            throw new Conflict(
              `${who.user} is enrolled already: to move to a new device send a current code (elevate mfa enroll --otp CODE), or ask an admin to reset it (elevate mfa reset ${who.user})`,
            );
          }
          current = await check(current, code, { what: 'enrolling again' });
        }
        const secret = newTotpSecret();
        const now = clock.now();
        await store.saveMfaEnrolment(
          {
            user: who.user,
            sealedSecret: box.seal(secret),
            createdAt: now,
            confirmedAt: null,
            lastStep: null,
            failures: current?.failures ?? 0,
            lockedUntil: current?.lockedUntil ?? null,
            version: current?.version ?? 0,
          },
          [event(who.user, 'MfaEnrolled', { user: who.user, replaced: current !== null })],
        );
        return { uri: totpUri(secret, who.user), secret };
      });
    },

    /** Activates the enrolment with a first code from the device. */
    async confirm(who: Identity, code: string): Promise<MfaStatus> {
      return exclusive(who.user, async () => {
        const current = await store.getMfaEnrolment(who.user);
        if (!current) throw new NotFound(`${who.user} has not enrolled: ${enrolHint}`);
        if (current.confirmedAt) throw new Conflict(`the enrolment of ${who.user} is confirmed already`);
        const checked = await check(current, code, { what: 'confirming the enrolment' });
        const saved = await store.saveMfaEnrolment({ ...checked, confirmedAt: clock.now() }, [
          event(who.user, 'MfaConfirmed', { user: who.user }),
        ]);
        return statusOf(who.user, saved, clock.now());
      });
    },

    async status(who: Identity): Promise<MfaStatus> {
      return statusOf(who.user, await store.getMfaEnrolment(who.user), clock.now());
    },

    /** MfaVerifier: a fresh code of a confirmed enrolment, used up by this check. */
    async verify(user: string, code: string | undefined, purpose: MfaPurpose): Promise<void> {
      const needed = `${purpose.what} requires a one-time code`;
      await exclusive(user, async () => {
        const current = await store.getMfaEnrolment(user);
        if (!current?.confirmedAt) {
          const state = current ? 'the enrolment is not confirmed yet' : `${user} has not enrolled`;
          if (code !== undefined) {
            await store.appendAudit([
              event(
                user,
                'MfaFailed',
                { user, for: purpose.what, reason: 'not-enrolled' },
                purpose.requestId,
              ),
            ]);
          }
          throw new OtpRefused(`${needed}, but ${state}: ${enrolHint}`, 'mfa-enrolment-required');
        }
        if (code === undefined) {
          throw new OtpRefused(
            `${needed}: send it in the Elevate-OTP header (on the CLI: --otp CODE)`,
            'otp-required',
          );
        }
        await check(current, code, purpose);
      });
    },

    /** An admin forgets a user's enrolment (a lost device); the user enrols afresh. */
    async reset(admin: Identity, user: string): Promise<void> {
      if (!deps.isAdmin(admin)) throw new Forbidden('only an admin may reset the MFA enrolment of a user');
      await exclusive(user, async () => {
        const deleted = await store.deleteMfaEnrolment(user, [event(admin.user, 'MfaReset', { user })]);
        if (!deleted) throw new NotFound(`${user} has no MFA enrolment`);
      });
    },
  };
}

const notConfigured = 'MFA is not configured on this server: set secrets.keyFile in its config';

/** The verifier when none is configured: a policy that requires MFA cannot be satisfied, and says why. */
export const mfaUnavailable: MfaVerifier = {
  async verify(_user, _code, purpose) {
    throw new Conflict(`${purpose.what} requires a one-time code, but ${notConfigured}`);
  },
};

/** Stands in when no secrets.keyFile is configured: enrolment is refused, and so is any step-up. */
export function mfaNotConfigured(): Pick<MfaService, 'enroll' | 'confirm' | 'status' | 'verify' | 'reset'> {
  const refuse = async (): Promise<never> => {
    throw new Conflict(notConfigured);
  };
  return { enroll: refuse, confirm: refuse, status: refuse, verify: mfaUnavailable.verify, reset: refuse };
}
