import { type Command, InvalidArgumentError } from 'commander';
import { parseTokenLifetime } from '../../services/api-token-service.js';
import { listArg } from '../arguments.js';
import { client, type Output, outputOption } from '../context.js';
import { table } from '../render.js';

interface ApiToken {
  name: string;
  user: string;
  groups: string[];
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
}

/** `90d`, `12h` or `never`, checked here so a typo is a usage error, not a round trip. */
function lifetimeArg(value: string): string {
  try {
    parseTokenLifetime(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  return value;
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
function nameArg(value: string): string {
  if (!dnsLabel.test(value)) throw new InvalidArgumentError(`"${value}" is no DNS label (a-z, 0-9, -)`);
  return value;
}

const day = (iso: string | null, none: string) => (iso ? iso.replace(/\.\d+Z$/, 'Z') : none);

function state(t: ApiToken, now = Date.now()): string {
  if (t.revokedAt) return 'revoked';
  if (t.expiresAt && Date.parse(t.expiresAt) <= now) return 'expired';
  return 'active';
}

/** Bearer tokens: the token file's helper, and API tokens for integrations (admins). */
export function addTokenCommands(program: Command): void {
  const token = program
    .command('token')
    .description('API tokens for integrations (admins), and a helper for the token file');
  token
    .command('hash')
    .description(
      'read a token on stdin; print the sha256:… form to put in the token file instead of the token',
    )
    .action(async () => {
      const { hashedTokenField } = await import('../../adapters/auth/token-file.js');
      let input = '';
      for await (const chunk of process.stdin) input += chunk;
      const value = input.trim();
      if (!value) throw new Error('no token on stdin');
      console.log(hashedTokenField(value));
    });
  token
    .command('create')
    .description(
      'create an API token; it is printed once (on stdout, alone, for a script to capture) and never again',
    )
    .requiredOption('--name <name>', 'its name (a DNS label); the identity is token:NAME', nameArg)
    .option('--groups <g1,g2>', 'groups of token:NAME, for policies', listArg)
    .option(
      '--expires <lifetime>',
      'how long it lives: 90d (default), 12h, at most 366d, or never',
      lifetimeArg,
    )
    .addOption(outputOption())
    .action(async (opts: { name: string; groups?: string[]; expires?: string } & Output, cmd: Command) => {
      const created = await client(cmd).json<ApiToken & { token: string }>('POST', '/api/v1/apitokens', {
        name: opts.name,
        ...(opts.groups ? { groups: opts.groups } : {}),
        ...(opts.expires ? { expires: opts.expires } : {}),
      });
      if (opts.output === 'json') {
        console.log(JSON.stringify(created, null, 2));
        return;
      }
      console.log(created.token);
      console.error(
        `apitoken/${created.name} created: ${created.user}, groups ${created.groups.join(',') || '(none)'}, ` +
          `expires ${day(created.expiresAt, 'never')}. Keep the token now: it cannot be shown again.`,
      );
    });
  token
    .command('list')
    .description('list API tokens (name, groups, created, expires, last used, state)')
    .addOption(outputOption())
    .action(async (opts: Output, cmd: Command) => {
      const { items } = await client(cmd).json<{ items: ApiToken[] }>('GET', '/api/v1/apitokens');
      if (opts.output === 'json') {
        console.log(JSON.stringify(items, null, 2));
        return;
      }
      console.log(
        table(
          ['NAME', 'GROUPS', 'CREATED', 'EXPIRES', 'LAST USED', 'STATE'],
          items.map((t) => [
            t.name,
            t.groups.join(',') || '-',
            day(t.createdAt, '-'),
            day(t.expiresAt, 'never'),
            day(t.lastUsedAt, 'never'),
            state(t),
          ]),
        ),
      );
    });
  token
    .command('revoke')
    .description('revoke an API token: its next use is refused, on every server')
    .argument('<name>', 'the token name', nameArg)
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const t = await client(cmd).json<ApiToken>('DELETE', `/api/v1/apitokens/${name}`);
      console.log(`apitoken/${t.name} revoked at ${day(t.revokedAt, '-')} by ${t.revokedBy ?? '-'}`);
    });
}
