import { type Command, Option } from 'commander';
import { phases } from '../../domain/access-request.js';
import type { AccessRequestResource } from '../../http/resources.js';
import { durationArg, listArg, timeArg } from '../arguments.js';
import { client, type Output, outputOption, printOutcome, printRequest } from '../context.js';
import { describeDecision, requestTable } from '../render.js';
import { activityLine } from './activity.js';
import { otpOption, withOtp } from './mfa.js';

const requestPath = (id: string) => `/api/v1/accessrequests/${encodeURIComponent(id)}`;

/**
 * POSTs one of a request's actions (approve, deny, revoke, cancel) and prints the outcome; `otp` (approve):
 * the approver's one-time code, asked for on a terminal when the policy wants one and none was given.
 */
async function act(
  cmd: Command,
  id: string,
  action: string,
  body: object,
  opts: Output & { otp?: string },
): Promise<void> {
  const r = await withOtp(opts.otp, (headers) =>
    client(cmd).json<AccessRequestResource>('POST', `${requestPath(id)}/${action}`, body, headers),
  );
  printOutcome(r, opts);
}

/** Asking for access, deciding, ending it, and looking at requests. */
export function addRequestCommands(program: Command): void {
  program
    .command('request')
    .description('ask for a role on a cluster for a while')
    .option('--cluster <names>', 'cluster, or several separated by commas', listArg)
    .option('--role <name>', 'role name')
    .option('--profile <name>', "a profile's targets, granted together (instead of --cluster/--role)")
    .addOption(
      new Option('--role-kind <kind>', 'kind of role')
        .choices(['ClusterRole', 'Role'])
        .default('ClusterRole'),
    )
    .option('--namespace <names>', 'namespace to grant the role in, or several separated by commas', listArg)
    .option('--cluster-wide', 'grant the role across the whole cluster')
    .option(
      '--duration <d>',
      "how long, e.g. 30m or 1h30m (default: the policy's defaultDuration)",
      durationArg,
    )
    .requiredOption('--reason <text>', 'why you need it')
    .option('--ticket <id>', 'ticket or incident reference')
    .option('--start <time>', 'when access is to begin, RFC 3339 (e.g. 2026-03-01T09:00:00+01:00)', timeArg)
    .option('--for <user>', 'ask for this person (integrations only: integrations[].mayRequestFor)')
    .option('--dry-run', 'show the decision and why, creating nothing')
    .addOption(otpOption())
    .addOption(outputOption())
    .action(async (opts, cmd: Command) => {
      const grant = {
        ...(opts.duration ? { duration: opts.duration } : {}),
        reason: opts.reason,
        ...(opts.ticket ? { ticket: opts.ticket } : {}),
        ...(opts.start ? { startTime: opts.start } : {}),
        ...(opts.for ? { requester: opts.for } : {}),
      };
      const post = async (spec: object) => {
        const r = await withOtp(opts.otp, (headers) =>
          client(cmd).json<AccessRequestResource>(
            'POST',
            `/api/v1/accessrequests${opts.dryRun ? '?dryRun=All' : ''}`,
            { apiVersion: 'elevate.dev/v1', kind: 'AccessRequest', spec },
            headers,
          ),
        );
        if (!opts.dryRun || opts.output === 'json') return printOutcome(r, opts);
        console.log(`accessrequest/${r.metadata.name} would be ${r.status.phase} (dry run)`);
        console.log(describeDecision(r.status.decision).join('\n'));
      };
      if (opts.profile) {
        if (opts.cluster || opts.role || opts.namespace || opts.clusterWide) {
          cmd.error(
            'error: --profile names the targets: leave out --cluster, --role, --namespace and --cluster-wide',
          );
        }
        return post({ profile: opts.profile, ...grant });
      }
      if (!opts.cluster || !opts.role) cmd.error('error: give --cluster and --role, or --profile');
      if (Boolean(opts.namespace) === Boolean(opts.clusterWide)) {
        cmd.error('error: give exactly one of --namespace NS or --cluster-wide');
      }
      // Every cluster with every namespace: one grant, one binding each.
      const targets = (opts.cluster as string[]).flatMap((cluster) =>
        ((opts.namespace as string[] | undefined) ?? [null]).map((namespace) => ({
          cluster,
          role: opts.role,
          roleKind: opts.roleKind,
          ...(namespace ? { namespace } : { clusterWide: true }),
        })),
      );
      return post(targets.length === 1 ? { ...targets[0], ...grant } : { targets, ...grant });
    });

  const decision = (name: 'approve' | 'deny', what: string) => {
    const command = program
      .command(`${name} <id>`)
      .description(what)
      .option('--comment <text>', 'a comment for the record')
      .option('--extension', `${name} the extension of an active grant waiting for approval`);
    if (name === 'approve') command.addOption(otpOption());
    return command
      .addOption(outputOption())
      .action(
        (id: string, opts: { comment?: string; extension?: boolean; otp?: string } & Output, cmd: Command) =>
          act(
            cmd,
            id,
            opts.extension ? `extension/${name}` : name,
            opts.comment ? { comment: opts.comment } : {},
            opts,
          ),
      );
  };
  decision('approve', 'approve a pending request');
  decision('deny', 'deny a pending request');

  program
    .command('extend <id>')
    .description('ask for more time on an active grant (judged by policy; may need approval)')
    .requiredOption('--by <d>', 'how much longer, e.g. 30m', durationArg)
    .option('--reason <text>', 'why')
    .addOption(outputOption())
    .action((id: string, opts: { by: string; reason?: string } & Output, cmd: Command) =>
      act(cmd, id, 'extend', { by: opts.by, ...(opts.reason ? { reason: opts.reason } : {}) }, opts),
    );

  program
    .command('revoke <id>')
    .description('end approved or active access now')
    .option('--reason <text>', 'why')
    .addOption(outputOption())
    .action((id: string, opts: { reason?: string } & Output, cmd: Command) =>
      act(cmd, id, 'revoke', opts.reason ? { reason: opts.reason } : {}, opts),
    );

  program
    .command('cancel <id>')
    .description('withdraw your pending request')
    .addOption(outputOption())
    .action((id: string, opts: Output, cmd: Command) => act(cmd, id, 'cancel', {}, opts));

  program
    .command('get <id>')
    .description('show one access request')
    .addOption(outputOption())
    .action(async (id: string, opts: Output, cmd: Command) => {
      const request = await client(cmd).json<AccessRequestResource>('GET', requestPath(id));
      printRequest(request, opts);
      if (opts.output === 'json' || !request.status.grant) return;
      const activity = await activityLine(cmd, id);
      if (activity) console.log(activity);
    });

  program
    .command('list')
    .description('list the access requests you may see')
    .addOption(new Option('--phase <phase>', 'only this phase').choices(phases))
    .addOption(outputOption())
    .action(async (opts: { phase?: string } & Output, cmd: Command) => {
      const query = opts.phase ? `?phase=${encodeURIComponent(opts.phase)}` : '';
      const list = await client(cmd).json<{ items: AccessRequestResource[] }>(
        'GET',
        `/api/v1/accessrequests${query}`,
      );
      if (opts.output === 'json') console.log(JSON.stringify({ items: list.items }, null, 2));
      else console.log(list.items.length ? requestTable(list.items) : 'No access requests found.');
    });
}
