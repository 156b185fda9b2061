import type { Command } from 'commander';
import type { AccessRequestResource } from '../../http/resources.js';
import { durationArg } from '../arguments.js';
import { client, type Output, outputOption, printOutcome } from '../context.js';
import { otpOption, withOtp } from './mfa.js';

interface ModeState {
  on: boolean;
  inForce: boolean;
  since: string | null;
  until: string | null;
  by: string | null;
  reason: string | null;
}

function describeMode(m: ModeState): string {
  if (!m.inForce) return 'ticket-system-down mode is off: tickets are required as policies say';
  return (
    `ticket-system-down mode is ON until ${m.until} (since ${m.since}, by ${m.by}: ${m.reason}); ` +
    'ticket requirements are waived and every grant made gets a review'
  );
}

const printMode = (m: ModeState, opts: Output) =>
  console.log(opts.output === 'json' ? JSON.stringify(m, null, 2) : describeMode(m));

/**
 * Emergency access: `elevate breakglass --profile P --reason R` pulls the glass; `elevate breakglass mode
 * on|off|status` is the fleet-wide ticket-system-down mode (admins switch it). One command with a `mode`
 * argument rather than a subcommand: commander would give `mode on --reason` to the parent's --reason.
 */
export function addBreakglassCommands(program: Command): void {
  program
    .command('breakglass')
    .description(
      'emergency access at once, no ticket or approver (break-glass roster), reviewed afterwards; ' +
        '`breakglass mode on|off|status`: ticket-system-down mode (admins switch it)',
    )
    .argument('[mode]', '"mode" to see or switch ticket-system-down mode')
    .argument('[state]', 'with mode: on, off or status')
    .option('--profile <name>', 'a break-glass profile (breakglass.profiles)')
    .option('--cluster <name>', 'with --role: the cluster')
    .option('--role <name>', 'a role listed in breakglass.roles')
    .option('--namespace <name>', 'with --role: the namespace (left out: cluster-wide)')
    .option('--reason <text>', 'what the emergency is (mode on: which ticket system is down)')
    .option('--duration <d>', 'how long (default and maximum: breakglass.maxDuration)', durationArg)
    .option('--for <d>', 'mode on: how long it stays on, e.g. 2h (at most 24h)', durationArg)
    .addOption(otpOption('one-time code, when breakglass.requireMfa is set'))
    .addOption(outputOption())
    .action(async (modeWord: string | undefined, state: string | undefined, opts, cmd: Command) => {
      if (modeWord === undefined) return pull(opts, cmd);
      if (modeWord !== 'mode')
        throw new Error(`unknown argument ${modeWord}: did you mean \`breakglass mode ${modeWord}\`?`);
      return switchMode(state ?? 'status', opts, cmd);
    });
}

async function pull(opts: Record<string, string | undefined> & Output, cmd: Command): Promise<void> {
  if (!opts.reason) throw new Error('--reason is required: say what the emergency is');
  if (Boolean(opts.profile) === Boolean(opts.role))
    throw new Error('give --profile, or --cluster and --role');
  if (opts.role && !opts.cluster) throw new Error('--role needs --cluster');
  const body = {
    reason: opts.reason,
    ...(opts.duration ? { duration: opts.duration } : {}),
    ...(opts.profile
      ? { profile: opts.profile }
      : {
          targets: [
            {
              cluster: opts.cluster,
              role: opts.role,
              ...(opts.namespace ? { namespace: opts.namespace } : {}),
            },
          ],
        }),
  };
  const r = await withOtp(opts.otp, (headers) =>
    client(cmd).json<AccessRequestResource>('POST', '/api/v1/breakglass', body, headers),
  );
  printOutcome(r, opts);
  if (opts.output !== 'json' && r.status.emergency) {
    console.error(
      `review/${r.status.emergency.review} opened: this access will be reviewed after the incident`,
    );
  }
}

async function switchMode(
  state: string,
  opts: Record<string, string | undefined> & Output,
  cmd: Command,
): Promise<void> {
  const api = client(cmd);
  if (state === 'status') return printMode(await api.json<ModeState>('GET', '/api/v1/breakglass/mode'), opts);
  if (state === 'on') {
    if (!opts.for || !opts.reason) throw new Error('mode on needs --for (e.g. 2h) and --reason');
    const body = { on: true, for: opts.for, reason: opts.reason };
    return printMode(await api.json<ModeState>('PUT', '/api/v1/breakglass/mode', body), opts);
  }
  if (state === 'off') {
    const body = { on: false, ...(opts.reason ? { reason: opts.reason } : {}) };
    return printMode(await api.json<ModeState>('PUT', '/api/v1/breakglass/mode', body), opts);
  }
  throw new Error(`mode ${state}: expected on, off or status`);
}
