import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './kube.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const elevateBin = join(repo, 'bin/elevate');

export interface ElevateProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** kill -9, and wait until it is gone. */
  crash(): Promise<void>;
}

/**
 * Runs `bin/elevate server` as its own process (so a test can kill -9 it); resolves once /readyz answers
 * 200 at `url`. `stopAll` kills whatever is left at the end of a test.
 */
export function elevateProcesses() {
  const children: ChildProcess[] = [];

  /** Starts the process and returns at once, ready or not. */
  function spawnServer(config: string): ElevateProcess & { exited(): boolean } {
    if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run `make build` first');
    const child = spawn(elevateBin, ['server', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let exited = false;
    child.on('exit', () => (exited = true));
    const crash = async () => {
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    };
    return { child, output: () => output, crash, exited: () => exited };
  }

  /** Starts the process and resolves once its /readyz at `url` answers 200. */
  async function start(
    config: string,
    url: string,
    { readyWithinMs = 30_000 } = {},
  ): Promise<ElevateProcess> {
    const server = spawnServer(config);
    await waitFor(
      async () => {
        if (server.exited()) throw new Error('elevate server exited');
        return (await fetch(`${url}/readyz`)).status === 200;
      },
      { timeoutMs: readyWithinMs, intervalMs: 20 },
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${server.output()}`);
    });
    return server;
  }

  function stopAll(): void {
    for (const c of children.splice(0)) c.kill('SIGKILL');
  }

  return { spawn: spawnServer, start, stopAll };
}
