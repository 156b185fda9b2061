import { type Command, Option } from 'commander';
import type { AccessRequestResource } from '../../http/resources.js';
import { client, type Output, outputOption } from '../context.js';
import { describeRequest, table } from '../render.js';

interface Review {
  id: string;
  request: string;
  user: string;
  kind: string;
  state: 'open' | 'done';
  overdue: boolean;
  openedAt: string;
  dueAt: string;
  outcome: string | null;
  notes: string | null;
  completedBy: string | null;
  completedAt: string | null;
}

interface ReviewDetail extends Review {
  accessRequest: AccessRequestResource | null;
  timeline: { seq: number; time: string; actor: string; action: string; details: Record<string, unknown> }[];
}

const short = (iso: string | null) => (iso ? iso.replace(/\.\d+Z$/, 'Z') : '-');

/** Post-incident reviews of break-glass grants and of grants made while tickets were waived. */
export function addReviewCommands(program: Command): void {
  const review = program.command('review').description('post-incident reviews of emergency access');
  review
    .command('list')
    .description('list reviews (reviewers and admins); OVERDUE marks open ones past their deadline')
    .addOption(new Option('--state <state>', 'only open or done ones').choices(['open', 'done']))
    .addOption(outputOption())
    .action(async (opts: { state?: string } & Output, cmd: Command) => {
      const query = opts.state ? `?state=${opts.state}` : '';
      const { items } = await client(cmd).json<{ items: Review[] }>('GET', `/api/v1/reviews${query}`);
      if (opts.output === 'json') {
        console.log(JSON.stringify(items, null, 2));
        return;
      }
      console.log(
        table(
          ['ID', 'REQUEST', 'USER', 'KIND', 'STATE', 'DUE', 'OUTCOME'],
          items.map((r) => [
            r.id,
            r.request,
            r.user,
            r.kind,
            r.overdue ? 'OVERDUE' : r.state,
            short(r.dueAt),
            r.outcome ?? '-',
          ]),
        ),
      );
    });
  review
    .command('show')
    .description('a review with its request, approvals, ticket and timeline')
    .argument('<id>', 'the review id (rv-…)')
    .addOption(outputOption())
    .action(async (id: string, opts: Output, cmd: Command) => {
      const r = await client(cmd).json<ReviewDetail>('GET', `/api/v1/reviews/${encodeURIComponent(id)}`);
      if (opts.output === 'json') {
        console.log(JSON.stringify(r, null, 2));
        return;
      }
      const state =
        r.state === 'done' ? `done: ${r.outcome} by ${r.completedBy} at ${short(r.completedAt)}` : 'open';
      console.log(`review/${r.id} of ${r.user}'s ${r.kind} access: ${r.overdue ? 'OVERDUE, ' : ''}${state}`);
      console.log(`opened ${short(r.openedAt)}, due ${short(r.dueAt)}`);
      if (r.notes) console.log(`notes: ${r.notes}`);
      if (r.accessRequest) console.log(`\n${describeRequest(r.accessRequest)}`);
      console.log('\ntimeline:');
      for (const e of r.timeline) console.log(`  ${short(e.time)}  ${e.action.padEnd(22)} ${e.actor}`);
    });
  review
    .command('complete')
    .description('complete a review (a reviewer other than the person reviewed)')
    .argument('<id>', 'the review id (rv-…)')
    .addOption(
      new Option('--outcome <outcome>', 'the verdict')
        .choices(['justified', 'unjustified'])
        .makeOptionMandatory(),
    )
    .requiredOption('--notes <text>', 'what the review found')
    .action(async (id: string, opts: { outcome: string; notes: string }, cmd: Command) => {
      const r = await client(cmd).json<Review>('POST', `/api/v1/reviews/${encodeURIComponent(id)}/complete`, {
        outcome: opts.outcome,
        notes: opts.notes,
      });
      console.log(`review/${r.id} completed: ${r.outcome} by ${r.completedBy}`);
    });
}
