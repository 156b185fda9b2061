import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'otplib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../src/adapters/crypto/secret-box.js';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store.js';
import type { Clock } from '../../src/domain/clock.js';
import type { Identity } from '../../src/domain/identity.js';
import { createKeyedLock } from '../../src/services/keyed-lock.js';
import { createMfaService, type MfaService } from '../../src/services/mfa-service.js';
import type { Store } from '../../src/services/ports.js';

const alice: Identity = { user: 'alice', groups: ['devs'] };
const admin: Identity = { user: 'root', groups: ['platform-admins'] };
const start = new Date('2026-03-02T10:00:05Z'); // 5 s into a 30 s step

/** A clock the test moves by hand. */
function handClock(at: Date): Clock & { advance(ms: number): void } {
  let now = at.getTime();
  return { now: () => new Date(now), advance: (ms) => (now += ms) };
}

/** The code an authenticator app shows `offsetSteps` steps from the clock's now. */
const codeAt = (secret: string, clock: Clock, offsetSteps = 0) =>
  generate({ secret, epoch: Math.floor(clock.now().getTime() / 1000) + offsetSteps * 30 });

describe('MFA service (TOTP step-up)', () => {
  let store: Store;
  let clock: ReturnType<typeof handClock>;
  let mfa: MfaService;

  beforeEach(async () => {
    store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), 'elevate-mfa-')), 'e.db'));
    clock = handClock(start);
    mfa = createMfaService({
      store,
      box: createSecretBox(randomBytes(32)),
      clock,
      withLock: createKeyedLock(),
      isAdmin: (who) => who.groups.includes('platform-admins'),
    });
  });
  afterEach(() => store.close());

  async function enrolled(who = alice): Promise<string> {
    const { secret } = await mfa.enroll(who);
    await mfa.confirm(who, await codeAt(secret, clock));
    clock.advance(30_000); // the confirming code's step is used up
    return secret;
  }

  const purpose = { what: 'request under policy prod' };
  const actions = async () => (await store.listAudit()).map((e) => e.action);

  it('enrols with an otpauth URI, stores the secret only sealed, and confirms with a first code', async () => {
    const { uri, secret } = await mfa.enroll(alice);
    expect(uri).toMatch(/^otpauth:\/\/totp\/Elevate:alice\?/);
    expect(uri).toContain(`secret=${secret}`);
    expect(uri).toContain('issuer=Elevate');
    const stored = await store.getMfaEnrolment('alice');
    expect(stored?.sealedSecret).toMatch(/^v1:/);
    expect(stored?.sealedSecret).not.toContain(secret);
    expect(await mfa.status(alice)).toMatchObject({ enrolled: true, confirmed: false });
    await expect(mfa.verify('alice', await codeAt(secret, clock), purpose)).rejects.toThrow(
      /not confirmed yet/,
    );
    expect(await mfa.confirm(alice, await codeAt(secret, clock))).toMatchObject({ confirmed: true });
    expect(await actions()).toEqual(['MfaEnrolled', 'MfaFailed', 'MfaVerified', 'MfaConfirmed']);
  });

  it('accepts a code of the step before or after, and refuses one two steps away', async () => {
    const secret = await enrolled();
    clock.advance(5 * 30_000); // the steps around now lie well after the one used to confirm
    await expect(mfa.verify('alice', await codeAt(secret, clock, -2), purpose)).rejects.toThrow(
      /wrong one-time code \(4 attempt/,
    );
    await expect(mfa.verify('alice', await codeAt(secret, clock, 2), purpose)).rejects.toThrow(/wrong/);
    await mfa.verify('alice', await codeAt(secret, clock, -1), purpose);
    await mfa.verify('alice', await codeAt(secret, clock, 0), purpose);
    await mfa.verify('alice', await codeAt(secret, clock, 1), purpose);
  });

  it('refuses the same code twice, and an older step after a newer one (replay)', async () => {
    const secret = await enrolled();
    const code = await codeAt(secret, clock);
    await mfa.verify('alice', code, purpose);
    await expect(mfa.verify('alice', code, purpose)).rejects.toMatchObject({
      reason: 'otp-invalid',
      message: expect.stringMatching(/used already/),
    });
    clock.advance(30_000);
    const next = await codeAt(secret, clock, 1);
    await mfa.verify('alice', next, purpose);
    // The current step is before the one just accepted: used up too.
    await expect(mfa.verify('alice', await codeAt(secret, clock), purpose)).rejects.toThrow(/used already/);
    const failed = (await store.listAudit()).filter((e) => e.action === 'MfaFailed');
    expect(failed.map((e) => e.details.reason)).toEqual(['replay', 'replay']);
  });

  it('locks after five wrong codes for 15 minutes, refusing even a good code, then lets it through', async () => {
    const secret = await enrolled();
    for (let i = 1; i <= 4; i++) {
      await expect(mfa.verify('alice', '000000', purpose)).rejects.toMatchObject({ reason: 'otp-invalid' });
    }
    await expect(mfa.verify('alice', '000000', purpose)).rejects.toMatchObject({
      reason: 'otp-locked',
      message: expect.stringMatching(/5th in a row.*locked until 2026-03-02T10:15:35/),
    });
    expect((await mfa.status(alice)).lockedUntil?.toISOString()).toBe('2026-03-02T10:15:35.000Z');
    clock.advance(15 * 60_000 - 1000);
    await expect(mfa.verify('alice', await codeAt(secret, clock), purpose)).rejects.toMatchObject({
      reason: 'otp-locked',
    });
    clock.advance(1000);
    expect((await mfa.status(alice)).lockedUntil).toBeNull();
    await mfa.verify('alice', await codeAt(secret, clock), purpose);
    const events = await store.listAudit();
    expect(events.filter((e) => e.action === 'MfaLocked')).toHaveLength(1);
    expect(events.filter((e) => e.action === 'MfaFailed').map((e) => e.details.reason)).toEqual([
      'wrong-code',
      'wrong-code',
      'wrong-code',
      'wrong-code',
      'wrong-code',
      'locked',
    ]);
  });

  it('a good code resets the count of wrong ones', async () => {
    const secret = await enrolled();
    for (let i = 0; i < 4; i++) await expect(mfa.verify('alice', '000000', purpose)).rejects.toThrow();
    await mfa.verify('alice', await codeAt(secret, clock), purpose);
    await expect(mfa.verify('alice', '000000', purpose)).rejects.toThrow(/4 attempt\(s\) left/);
  });

  it('says how to enrol, or to send a code, when a step-up finds none', async () => {
    await expect(mfa.verify('alice', undefined, purpose)).rejects.toMatchObject({
      reason: 'mfa-enrolment-required',
      message: expect.stringMatching(
        /request under policy prod requires a one-time code, but alice has not enrolled: enrol with `elevate mfa enroll`/,
      ),
    });
    await enrolled();
    await expect(mfa.verify('alice', undefined, purpose)).rejects.toMatchObject({
      reason: 'otp-required',
      message: expect.stringMatching(/Elevate-OTP header/),
    });
  });

  it('enrolling again while confirmed takes a current code; an admin reset starts over, audited', async () => {
    const secret = await enrolled();
    await expect(mfa.enroll(alice)).rejects.toThrow(/enrolled already.*elevate mfa reset alice/);
    await expect(mfa.enroll(alice, '000000')).rejects.toThrow(/wrong one-time code/);
    const again = await mfa.enroll(alice, await codeAt(secret, clock));
    expect(again.secret).not.toBe(secret);
    expect(await mfa.status(alice)).toMatchObject({ enrolled: true, confirmed: false });

    await expect(mfa.reset(alice, 'alice')).rejects.toThrow(/only an admin/);
    await mfa.reset(admin, 'alice');
    expect(await mfa.status(alice)).toMatchObject({ enrolled: false, confirmed: false });
    await expect(mfa.reset(admin, 'alice')).rejects.toThrow(/has no MFA enrolment/);
    const reset = (await store.listAudit()).find((e) => e.action === 'MfaReset');
    expect(reset).toMatchObject({ actor: 'root', details: { user: 'alice' } });
  });

  it('never writes the secret or a code into the audit trail', async () => {
    const { secret } = await mfa.enroll(alice);
    const code = await codeAt(secret, clock);
    await mfa.confirm(alice, code);
    await expect(mfa.verify('alice', code, purpose)).rejects.toThrow();
    const trail = JSON.stringify(await store.listAudit());
    expect(trail).not.toContain(secret);
    expect(trail).not.toContain(code);
  });
});
