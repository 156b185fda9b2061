import { generateSecret, generateURI, verify } from 'otplib';

/**
 * TOTP as authenticator apps do it (RFC 6238 defaults: SHA-1, 6 digits, 30 s steps), by otplib. A code
 * of the step before or after the current one is accepted too, for clocks a little apart and a code typed
 * as it turned over.
 */
const period = 30;

export const totpIssuer = 'Elevate';

export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

export function totpUri(secret: string, user: string): string {
  return generateURI({ issuer: totpIssuer, label: user, secret, algorithm: 'sha1', digits: 6, period });
}

/** The time step the code belongs to (within ±1 step of `now`), or null when it matches none. */
export async function totpStep(secret: string, code: string, now: Date): Promise<number | null> {
  if (!/^[0-9]{6}$/.test(code)) return null;
  const result = await verify({
    secret,
    token: code,
    algorithm: 'sha1',
    digits: 6,
    period,
    epoch: Math.floor(now.getTime() / 1000),
    // In seconds: ±one period reaches exactly the neighbouring steps, never two away.
    epochTolerance: period,
  });
  // otplib's result type covers HOTP too; a TOTP result that is valid carries its time step.
  return result.valid && 'timeStep' in result ? result.timeStep : null;
}
