import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** What is needed to find a process again later, from another Node process. */
export interface ProcessIdentity {
  pid: number;
  /** argv exactly as exec'd; compared with /proc/<pid>/cmdline so a reused pid is never signalled. */
  cmdline: string[];
}

export interface DetachedProcess extends ProcessIdentity {
  /** Resolves with a description of how the process ended, if it ends while this Node process lives. */
  exited: Promise<string>;
}

/**
 * Starts a process in its own session with output appended to `logFile`, and lets this Node process exit
 * without waiting for it: the control plane must outlive the CLI that started it.
 */
export function spawnDetached(command: string, args: string[], logFile: string): DetachedProcess {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) =>
        resolve(signal ? `killed by ${signal}` : `exited with code ${code}`),
      );
      child.once('error', (err) => resolve(`failed: ${err.message}`));
    });
    child.unref();
    return { pid: child.pid, cmdline: [command, ...args], exited };
  } finally {
    closeSync(fd);
  }
}

/** True while the pid still belongs to the recorded command line (a zombie has an empty one, so it is not). */
export function isRunning(proc: ProcessIdentity): boolean {
  try {
    return readFileSync(`/proc/${proc.pid}/cmdline`, 'latin1') === `${proc.cmdline.join('\0')}\0`;
  } catch {
    return false;
  }
}

function signal(proc: ProcessIdentity, sig: NodeJS.Signals): void {
  if (!isRunning(proc)) return;
  try {
    process.kill(proc.pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function waitGone(procs: ProcessIdentity[], timeoutMs: number): Promise<ProcessIdentity[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = procs.filter(isRunning);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(50);
    alive = alive.filter(isRunning);
  }
  return alive;
}

/** SIGTERM, then SIGKILL for whatever is still there after `graceMs`. Processes already gone are skipped. */
export async function stopProcesses(procs: ProcessIdentity[], graceMs = 10_000): Promise<void> {
  for (const proc of procs) signal(proc, 'SIGTERM');
  const stubborn = await waitGone(procs, graceMs);
  for (const proc of stubborn) signal(proc, 'SIGKILL');
  const undead = await waitGone(stubborn, 5_000);
  if (undead.length > 0) throw new Error(`processes did not stop: ${undead.map((p) => p.pid).join(', ')}`);
}
