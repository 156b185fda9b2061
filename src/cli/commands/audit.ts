import { type Command, InvalidArgumentError, Option } from 'commander';
import type { SinkStatus } from '../../services/audit-service.js';
import { client, type Output, outputOption } from '../context.js';
import { age, table } from '../render.js';

interface AuditHead {
  seq: number;
  hash: string;
}

interface AuditVerification {
  intact: boolean;
  firstBrokenSeq: number | null;
  head: AuditHead | null;
  expectedHead?: AuditHead & { present: boolean };
}

/** `SEQ:HASH` as `audit verify` prints the head; checked here so a typo is not mistaken for truncation. */
export function parseHead(value: string): string {
  const m = /^(\d+):([0-9a-fA-F]+)$/.exec(value.trim());
  if (!m)
    throw new InvalidArgumentError(`"${value}" is not SEQ:HASH (e.g. 42:3f9c…, as audit verify prints)`);
  const [, seq = '', hash = ''] = m;
  if (!/^[1-9]\d{0,15}$/.test(seq))
    throw new InvalidArgumentError(`SEQ must be a positive integer, got "${seq}"`);
  if (hash.length !== 64)
    throw new InvalidArgumentError(`HASH must be 64 hex digits (SHA-256), got ${hash.length}`);
  return `${seq}:${hash.toLowerCase()}`;
}

/** One line per sink; the last error in full below the table, since that is what an operator acts on. */
export function sinksText(items: SinkStatus[], now = Date.now()): string {
  if (items.length === 0) return 'no audit sinks configured (audit.sinks)\n';
  const rows = items.map((s) => [
    s.name,
    s.type,
    String(s.cursor ?? '-'),
    String(s.lagEvents),
    `${s.lagSeconds.toFixed(1)}s`,
    String(s.failures),
    s.refusing ? `seq ${s.refusing.seq} x${s.refusing.attempts}` : '-',
    String(s.skipped),
    s.lastDeliveredAt ? `${age(s.lastDeliveredAt, now)} ago` : '-',
  ]);
  const header = ['NAME', 'TYPE', 'CURSOR', 'LAG', 'LAG(S)', 'FAILURES', 'REFUSING', 'SKIPPED', 'DELIVERED'];
  const notes = items.flatMap((s) => [
    ...(s.failures > 0 && s.lastError ? [`${s.name}: failing since ${s.lastErrorAt}: ${s.lastError}`] : []),
    ...s.recentSkips.map((k) => `${s.name}: skipped seq ${k.seq} at ${k.skippedAt}: ${k.error}`),
  ]);
  return `${table(header, rows)}\n${notes.map((n) => `${n}\n`).join('')}`;
}

const headText = (h: AuditHead | null) => (h ? `${h.seq}:${h.hash}` : 'none (no events yet)');

function printVerification(r: AuditVerification, opts: Output): void {
  if (opts.output === 'json') console.log(JSON.stringify(r, null, 2));
  else {
    if (r.firstBrokenSeq !== null) console.error(`audit chain broken at event ${r.firstBrokenSeq}`);
    if (r.expectedHead && !r.expectedHead.present)
      console.error(
        `expected head ${headText(r.expectedHead)} is not in the trail: events were deleted or rewritten`,
      );
    if (r.intact) console.log('audit chain intact');
    // The head goes to stdout either way, so an operator (or a cron job) can keep it for the next check.
    console.log(`head: ${headText(r.head)}`);
  }
  if (!r.intact) process.exitCode = 1;
}

/** Reading and checking the audit trail (admins). */
export function addAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the audit trail (admins)');
  audit
    .command('export')
    .description('print the whole audit trail')
    .addOption(new Option('--format <format>', 'csv or jsonl').choices(['csv', 'jsonl']).default('csv'))
    .action(async (opts: { format: string }, cmd: Command) => {
      process.stdout.write(await client(cmd).text('GET', `/api/v1/audit/export?format=${opts.format}`));
    });
  audit
    .command('sinks')
    .description('how each audit sink is doing: lag behind the trail, failures, skipped events')
    .addOption(outputOption())
    .action(async (opts: Output, cmd: Command) => {
      const { items } = await client(cmd).json<{ items: SinkStatus[] }>('GET', '/api/v1/audit/sinks');
      if (opts.output === 'json') console.log(JSON.stringify(items, null, 2));
      else process.stdout.write(sinksText(items));
      // A sink that is failing right now is worth a non-zero exit for a cron job or a probe.
      if (items.some((s) => s.failures > 0)) process.exitCode = 1;
    });
  audit
    .command('verify')
    .description(
      'check that the audit hash chain is intact and print its head; exits 1 if not. A chain cut at its end ' +
        'still verifies: keep the head printed here and pass it as --expect-head next time to detect that.',
    )
    .option('--expect-head <SEQ:HASH>', 'a head printed earlier, which must still be in the trail', parseHead)
    .addOption(outputOption())
    .action(async (opts: { expectHead?: string } & Output, cmd: Command) => {
      const query = opts.expectHead ? `?expectHead=${encodeURIComponent(opts.expectHead)}` : '';
      printVerification(
        await client(cmd).json<AuditVerification>('GET', `/api/v1/audit/verify${query}`),
        opts,
      );
    });
}
