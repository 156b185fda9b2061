import { createInterface } from 'node:readline/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ApiError } from '../api-client.js';
import { client } from '../context.js';

const otpRequired = 'https://elevate.dev/problems/otp-required';

function otpArg(value: string): string {
  if (!/^[0-9]{6}$/.test(value)) throw new InvalidArgumentError('a one-time code is 6 digits');
  return value;
}

/** `--otp CODE` for commands a policy may ask a one-time code of (request, approve). */
export const otpOption = (
  description = 'one-time code from your authenticator app, when the policy requires MFA (asked for on a terminal)',
) => new Option('--otp <code>', description).argParser(otpArg);

const otpHeader = (code: string | undefined): Record<string, string> => (code ? { 'elevate-otp': code } : {});

async function ask(question: string): Promise<string> {
  // On stderr, so what the command prints on stdout stays clean for scripts.
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

/**
 * Sends the call with the code given by --otp; without one, when the server answers that the policy wants
 * a code and a person is at the terminal, asks for it and sends the call once more with it.
 */
export async function withOtp<T>(
  given: string | undefined,
  call: (headers: Record<string, string>) => Promise<T>,
): Promise<T> {
  try {
    return await call(otpHeader(given));
  } catch (e) {
    const wantsCode = e instanceof ApiError && e.problemType === otpRequired;
    if (given !== undefined || !wantsCode || !process.stdin.isTTY) throw e;
    console.error((e as Error).message);
    return call(otpHeader(otpArg(await ask('one-time code: '))));
  }
}

interface MfaStatusView {
  user: string;
  enrolled: boolean;
  confirmed: boolean;
  lockedUntil: string | null;
}

function describeStatus(s: MfaStatusView): string {
  const state = !s.enrolled
    ? 'not enrolled'
    : s.confirmed
      ? 'enrolled and confirmed'
      : 'enrolled, not confirmed yet';
  return `${s.user}: ${state}${s.lockedUntil ? `; codes locked until ${s.lockedUntil}` : ''}`;
}

/** TOTP step-up: enrol a device, confirm it, see the state; admins reset someone's. */
export function addMfaCommands(program: Command): void {
  const mfa = program.command('mfa').description('one-time codes (TOTP) for policies that require MFA');

  mfa
    .command('enroll')
    .description(
      'start enrolling: shows a QR code for your authenticator app, then run elevate mfa confirm CODE',
    )
    .addOption(otpOption('a current code: needed to enrol again (a new device) while enrolled'))
    .option('--no-qr', 'print only the otpauth:// URI and the secret')
    .action(async (opts: { otp?: string; qr: boolean }, cmd: Command) => {
      const { uri, secret } = await client(cmd).json<{ uri: string; secret: string }>(
        'POST',
        '/api/v1/mfa/enroll',
        opts.otp ? { code: opts.otp } : {},
      );
      if (opts.qr) {
        const qrcode = await import('qrcode');
        console.log(await qrcode.toString(uri, { type: 'terminal', small: true }));
      }
      console.log(uri);
      console.log(`secret: ${secret}`);
      console.log('scan it (or type the secret) into your authenticator app, then: elevate mfa confirm CODE');
    });

  mfa
    .command('confirm <code>')
    .description('activate your enrolment with a first code from the app')
    .action(async (code: string, _opts, cmd: Command) => {
      const status = await client(cmd).json<MfaStatusView>('POST', '/api/v1/mfa/confirm', {
        code: otpArg(code),
      });
      console.log(describeStatus(status));
    });

  mfa
    .command('status')
    .description('show whether you are enrolled, and whether codes are locked')
    .action(async (_opts, cmd: Command) => {
      console.log(describeStatus(await client(cmd).json<MfaStatusView>('GET', '/api/v1/mfa')));
    });

  mfa
    .command('reset <user>')
    .description("forget a user's enrolment, e.g. after a lost device (admins); they enrol afresh")
    .action(async (user: string, _opts, cmd: Command) => {
      await client(cmd).text('DELETE', `/api/v1/mfa/users/${encodeURIComponent(user)}`);
      console.log(`MFA enrolment of ${user} reset`);
    });
}
