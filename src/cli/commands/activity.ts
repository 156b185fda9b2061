import { type Command, Option } from 'commander';
import type { GrantAction } from '../../http/routes/grant-activity-routes.js';
import { client, type Output, outputOption } from '../context.js';
import { table } from '../render.js';

const activityPath = (id: string, rest: string) => `/api/v1/accessrequests/${encodeURIComponent(id)}/${rest}`;

/** One line per action, like kubectl get: when, who, what, the answer, and whether the grant allowed it. */
export function activityTable(items: GrantAction[]): string {
  return table(
    ['TIME', 'USER', 'VERB', 'RESOURCE', 'NAMESPACE', 'NAME', 'CODE', 'VIA GRANT'],
    items.map((a) => [
      a.time,
      a.impersonator ? `${a.user} (by ${a.impersonator})` : a.user,
      a.verb,
      a.resource ? `${a.resource}${a.subresource ? `/${a.subresource}` : ''}` : (a.uri ?? ''),
      a.namespace ?? '',
      a.name ?? '',
      String(a.code ?? ''),
      a.viaGrant ? 'yes' : 'no',
    ]),
  );
}

/** What was done under a grant, and the grant's report for a review. */
export function addActivityCommands(program: Command): void {
  program
    .command('activity <id>')
    .description('what was done under a grant, from the API servers’ audit events')
    .option('--limit <n>', 'most actions listed', '1000')
    .addOption(outputOption())
    .action(async (id: string, opts: { limit: string } & Output, cmd: Command) => {
      const query = `activity?limit=${encodeURIComponent(opts.limit)}`;
      const body = await client(cmd).json<{ count: number; items: GrantAction[] }>(
        'GET',
        activityPath(id, query),
      );
      if (opts.output === 'json') console.log(JSON.stringify(body, null, 2));
      else if (body.count === 0) console.log(`No actions recorded under ${id}.`);
      else {
        console.log(activityTable(body.items));
        if (body.count > body.items.length) console.log(`(${body.count - body.items.length} more: --limit)`);
      }
    });
  program
    .command('report <id>')
    .description('one document for a post-incident or compliance review of a grant')
    .addOption(new Option('--format <format>', 'md or json').choices(['md', 'json']).default('md'))
    .action(async (id: string, opts: { format: string }, cmd: Command) => {
      process.stdout.write(await client(cmd).text('GET', activityPath(id, `report?format=${opts.format}`)));
    });
}

/** "Activity: N actions" for `elevate get`; nothing when the caller may not see it or there is none. */
export async function activityLine(cmd: Command, id: string): Promise<string | null> {
  try {
    const { count } = await client(cmd).json<{ count: number }>('GET', activityPath(id, 'activity?limit=0'));
    return count > 0 ? `Activity:   ${count} action(s) recorded (elevate activity ${id})` : null;
  } catch {
    return null;
  }
}
