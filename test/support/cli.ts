import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const elevateBin = join(repo, 'bin/elevate');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; a non-zero exit is a result to look at, not an error. */
export function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** `bin/elevate ARGS` against the server at `url`, as `person` (token-<person>), or with no token. */
export function elevateCli(url: string) {
  return (person: string | null, ...args: string[]) =>
    run(elevateBin, args, { ELEVATE_SERVER: url, ...(person ? { ELEVATE_TOKEN: `token-${person}` } : {}) });
}
