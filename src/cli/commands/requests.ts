import { type Command, InvalidArgumentError, Option } from 'commander';
import { phases } from '../../domain/access-request.js';
import { parsePositiveDuration } from '../../domain/duration.js';
import type { AccessRequestResource } from '../../http/resources.js';
import { client, type Output, outputOption, printOutcome, printRequest } from '../context.js';
import { requestTable } from '../render.js';

function durationArg(value: string): string {
  const ms = parsePositiveDuration(value);
  if (typeof ms === 'string') throw new InvalidArgumentError(ms);
  return value;
}

/** RFC 3339 with Z or an offset, as the API takes it; the server judges whether it is too early or late. */
function startArg(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    throw new InvalidArgumentError(
      'give an RFC 3339 time with Z or an offset, e.g. 2026-03-01T09:00:00+01:00',
    );
  }
  return value;
}

/** A comma-separated list, blanks dropped: `--namespace a,b`. */
function list(value: string): string[] {
  const items = value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('give at least one name');
  return items;
}

const requestPath = (id: string) => `/api/v1/accessrequests/${encodeURIComponent(id)}`;

/** POSTs one of a request's actions (approve, deny, revoke, cancel) and prints the outcome. */
async function act(cmd: Command, id: string, action: string, body: object, opts: Output): Promise<void> {
  const r = await client(cmd).json<AccessRequestResource>('POST', `${requestPath(id)}/${action}`, body);
  printOutcome(r, opts);
}

/** Asking for access, deciding, ending it, and looking at requests. */
export function addRequestCommands(program: Command): void {
  program
    .command('request')
    .description('ask for a role on a cluster for a while')
    .requiredOption('--cluster <names>', 'cluster, or several separated by commas', list)
    .requiredOption('--role <name>', 'role name')
    .addOption(
      new Option('--role-kind <kind>', 'kind of role')
        .choices(['ClusterRole', 'Role'])
        .default('ClusterRole'),
    )
    .option('--namespace <names>', 'namespace to grant the role in, or several separated by commas', list)
    .option('--cluster-wide', 'grant the role across the whole cluster')
    .requiredOption('--duration <d>', 'how long, e.g. 30m or 1h30m', durationArg)
    .requiredOption('--reason <text>', 'why you need it')
    .option('--ticket <id>', 'ticket or incident reference')
    .option('--start <time>', 'when access is to begin, RFC 3339 (e.g. 2026-03-01T09:00:00+01:00)', startArg)
    .addOption(outputOption())
    .action(async (opts, cmd: Command) => {
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
      const grant = {
        duration: opts.duration,
        reason: opts.reason,
        ...(opts.ticket ? { ticket: opts.ticket } : {}),
        ...(opts.start ? { startTime: opts.start } : {}),
      };
      const created = await client(cmd).json<AccessRequestResource>('POST', '/api/v1/accessrequests', {
        apiVersion: 'elevate.dev/v1',
        kind: 'AccessRequest',
        spec: targets.length === 1 ? { ...targets[0], ...grant } : { targets, ...grant },
      });
      printOutcome(created, opts);
    });

  const decision = (name: 'approve' | 'deny', what: string) =>
    program
      .command(`${name} <id>`)
      .description(what)
      .option('--comment <text>', 'a comment for the record')
      .addOption(outputOption())
      .action((id: string, opts: { comment?: string } & Output, cmd: Command) =>
        act(cmd, id, name, opts.comment ? { comment: opts.comment } : {}, opts),
      );
  decision('approve', 'approve a pending request');
  decision('deny', 'deny a pending request');

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
      printRequest(await client(cmd).json<AccessRequestResource>('GET', requestPath(id)), opts);
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

  program
    .command('whoami')
    .description('show who your token belongs to')
    .action(async (_opts, cmd: Command) => {
      const me = await client(cmd).json<{ user: string; groups: string[]; admin: boolean }>(
        'GET',
        '/api/v1/whoami',
      );
      console.log(`${me.user} (groups: ${me.groups.join(', ') || 'none'})${me.admin ? ' [admin]' : ''}`);
    });
}
