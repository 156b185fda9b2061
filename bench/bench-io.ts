import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What every bench shares: where the built CLI is, how it reports, and how it ends. */
export const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
export const elevateBin = join(repo, 'bin/elevate');

/** Progress goes to stderr, so stdout holds only the report. */
export const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);
export const report = (line = '') => process.stdout.write(`${line}\n`);

/** Runs a bench's main and exits: 0 when it finished, 1 (with the error on stderr) when it failed. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      progress(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      process.exit(1);
    },
  );
}
