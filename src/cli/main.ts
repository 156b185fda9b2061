#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
import { phases } from '../domain/access-request.js';
import { parseDuration } from '../domain/duration.js';
import type { AccessRequestResource } from '../http/resources.js';
import { version } from '../version.js';
import { ApiError, createApiClient } from './api-client.js';
import { describeRequest, requestTable } from './render.js';

type Output = { output?: 'json' };

function client(cmd: Command) {
  const { server, token } = cmd.optsWithGlobals<{ server: string; token?: string }>();
  return createApiClient({ server, token });
}

function print(obj: AccessRequestResource, opts: Output): void {
  console.log(opts.output === 'json' ? JSON.stringify(obj, null, 2) : describeRequest(obj));
}

/** POSTs one of a request's actions (approve, deny, revoke, cancel) and prints the outcome. */
async function act(cmd: Command, id: string, action: string, body: object, opts: Output): Promise<void> {
  const r = await client(cmd).json<AccessRequestResource>(
    'POST',
    `/api/v1/accessrequests/${encodeURIComponent(id)}/${action}`,
    body,
  );
  if (opts.output === 'json') print(r, opts);
  else console.log(`accessrequest/${r.metadata.name} ${r.status.phase}: ${r.status.message}`);
}

const outputOption = () => new Option('-o, --output <format>', 'output format').choices(['json']);

function durationArg(value: string): string {
  const ms = parseDuration(value);
  if (ms === null || ms <= 0)
    throw new InvalidArgumentError(`"${value}" is not a positive duration (e.g. 90s, 30m, 1h30m)`);
  return value;
}

export function buildProgram(): Command {
  const program = new Command('elevate')
    .description('Just-in-time privileged access for Kubernetes')
    .version(version)
    .addOption(
      new Option('--server <url>', 'Elevate server URL')
        .env('ELEVATE_SERVER')
        .default('http://127.0.0.1:8080'),
    )
    .addOption(new Option('--token <token>', 'bearer token').env('ELEVATE_TOKEN'))
    .showHelpAfterError();

  program
    .command('server')
    .description('run the Elevate server')
    .requiredOption('--config <file>', 'config file (YAML)')
    .action(async (opts: { config: string }) => {
      const { runServer } = await import('../server.js');
      await runServer(opts.config);
    });

  program
    .command('request')
    .description('ask for a role on a cluster for a while')
    .requiredOption('--cluster <name>', 'cluster')
    .requiredOption('--role <name>', 'role name')
    .addOption(
      new Option('--role-kind <kind>', 'kind of role')
        .choices(['ClusterRole', 'Role'])
        .default('ClusterRole'),
    )
    .option('--namespace <ns>', 'namespace to grant the role in')
    .option('--cluster-wide', 'grant the role across the whole cluster')
    .requiredOption('--duration <d>', 'how long, e.g. 30m or 1h30m', durationArg)
    .requiredOption('--reason <text>', 'why you need it')
    .option('--ticket <id>', 'ticket or incident reference')
    .addOption(outputOption())
    .action(async (opts, cmd: Command) => {
      if (Boolean(opts.namespace) === Boolean(opts.clusterWide)) {
        cmd.error('error: give exactly one of --namespace NS or --cluster-wide');
      }
      const created = await client(cmd).json<AccessRequestResource>('POST', '/api/v1/accessrequests', {
        apiVersion: 'elevate.dev/v1',
        kind: 'AccessRequest',
        spec: {
          cluster: opts.cluster,
          role: opts.role,
          roleKind: opts.roleKind,
          ...(opts.namespace ? { namespace: opts.namespace } : { clusterWide: true }),
          duration: opts.duration,
          reason: opts.reason,
          ...(opts.ticket ? { ticket: opts.ticket } : {}),
        },
      });
      if (opts.output === 'json') print(created, opts);
      else
        console.log(
          `accessrequest/${created.metadata.name} ${created.status.phase}: ${created.status.message}`,
        );
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
      print(
        await client(cmd).json<AccessRequestResource>(
          'GET',
          `/api/v1/accessrequests/${encodeURIComponent(id)}`,
        ),
        opts,
      );
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

  const audit = program.command('audit').description('the audit trail (admins)');
  audit
    .command('export')
    .description('print the whole audit trail')
    .addOption(new Option('--format <format>', 'csv or jsonl').choices(['csv', 'jsonl']).default('csv'))
    .action(async (opts: { format: string }, cmd: Command) => {
      process.stdout.write(await client(cmd).text('GET', `/api/v1/audit/export?format=${opts.format}`));
    });
  audit
    .command('verify')
    .description('check that the audit hash chain is intact')
    .action(async (_opts, cmd: Command) => {
      const r = await client(cmd).json<{ intact: boolean; firstBrokenSeq: number | null }>(
        'GET',
        '/api/v1/audit/verify',
      );
      if (r.intact) console.log('audit chain intact');
      else {
        console.error(`audit chain broken at event ${r.firstBrokenSeq}`);
        process.exitCode = 1;
      }
    });

  const token = program.command('token').description('bearer tokens for the token file');
  token
    .command('hash')
    .description(
      'read a token on stdin; print the sha256:… form to put in the token file instead of the token',
    )
    .action(async () => {
      const { hashedTokenField } = await import('../adapters/auth/token-file.js');
      let input = '';
      for await (const chunk of process.stdin) input += chunk;
      const value = input.trim();
      if (!value) throw new Error('no token on stdin');
      console.log(hashedTokenField(value));
    });

  const testenv = program
    .command('testenv')
    .description('local real Kubernetes control planes for tests and demos');
  testenv
    .command('up')
    .description('start N control planes (etcd, kube-apiserver, kube-controller-manager) on 127.0.0.1')
    .requiredOption('--dir <dir>', 'state directory')
    .option(
      '--clusters <n>',
      'how many clusters',
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 10)
          throw new InvalidArgumentError('must be an integer from 1 to 10');
        return n;
      },
      1,
    )
    .option(
      '--apiserver-arg <flag>',
      'extra kube-apiserver flag (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [],
    )
    .action(async (opts: { dir: string; clusters: number; apiserverArg: string[] }) => {
      const { testenvUp } = await import('../testenv/testenv.js');
      const clusters = await testenvUp({
        dir: opts.dir,
        clusters: opts.clusters,
        apiserverArgs: opts.apiserverArg,
        log: (line) => console.error(line),
      });
      for (const c of clusters) console.log(`${c.name}\t${c.server}\t${c.kubeconfigPath}`);
    });
  testenv
    .command('down')
    .description('stop the control planes started in DIR (and nothing else)')
    .requiredOption('--dir <dir>', 'state directory')
    .action(async (opts: { dir: string }) => {
      const { testenvDown } = await import('../testenv/testenv.js');
      await testenvDown({ dir: opts.dir });
    });

  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((e: Error) => {
    console.error(`error: ${e.message}`);
    process.exit(e instanceof ApiError && e.status === 0 ? 3 : 1);
  });
