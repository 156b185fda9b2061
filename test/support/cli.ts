import { type ChildProcess, execFile, spawn } from 'node:child_process';
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

export interface RunningCli {
  child: ChildProcess;
  /** Resolves with the first match of `pattern` in stderr so far or to come. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Starts `elevate ARGS` and lets the test read its stderr as it comes, like a person reading the prompt. */
export function startCli(args: string[], env: Record<string, string>): RunningCli {
  const child = spawn(elevateBin, args, { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  const waiting: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const check = () => {
    for (const w of [...waiting]) {
      const m = stderr.match(w.pattern);
      if (m) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d;
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d;
    check();
  });
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return {
    child,
    exit,
    waitFor: (pattern) =>
      Promise.race([
        new Promise<RegExpMatchArray>((resolve) => {
          waiting.push({ pattern, resolve });
          check();
        }),
        exit.then(({ code }) => {
          throw new Error(
            `elevate ${args.join(' ')} exited (${code}) before printing ${pattern}:\n${stderr}`,
          );
        }),
      ]),
  };
}

/**
 * The environment of a person running the CLI at their own machine: their HOME (where `elevate login` keeps
 * the sign-in), this server, no token in the environment.
 */
export function personEnv(home: string, server: string, extra: Record<string, string> = {}) {
  return {
    HOME: home,
    XDG_CONFIG_HOME: join(home, 'config'),
    ELEVATE_SERVER: server,
    ELEVATE_TOKEN: '',
    ...extra,
  };
}
