import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { composeElevate, createLogger } from '../src/composition-root.js';
import { parseConfig } from '../src/config/load-config.js';
import { freePort } from '../src/testenv/free-port.js';
import { elevateBin } from './bench-io.js';

export interface BenchElevateOptions {
  /** Where the config, token file and database go. */
  dir: string;
  /** Cluster name to kubeconfig path. */
  clusters: Record<string, string>;
  /** Requesters, all in group devs: each grant needs its own user, since one user's grants would overlap. */
  users: string[];
  /** Default 10s, as a deployment would run it. */
  reconcileInterval?: string;
  /** Every cluster's API server may send audit events with the token in this file (activity capture). */
  activityTokenFile?: string;
}

export interface BenchElevate {
  url: string;
  /** Where Elevate runs: in this process (sharing its event loop) or as its own `bin/elevate server`. */
  where: BenchServerMode;
  stop(): Promise<void>;
}

/**
 * `in-process` (default): composeElevate in the bench's own process, as `latency.ts` always did; the bench's
 * SAR polling then shares Elevate's event loop. `process` (BENCH_SERVER=process): `bin/elevate server` as a
 * child, as a deployment runs it; needs `make build`.
 */
export type BenchServerMode = 'in-process' | 'process';
export const benchServerMode: BenchServerMode =
  process.env.BENCH_SERVER === 'process' ? 'process' : 'in-process';

export const adminUser = 'bench-root';
export const tokenOf = (user: string) => `token-${user}`;

const readyWithinMs = 60_000;
const exitWithinMs = 10_000;

/** Writes a config like test/support/elevate.ts does, but for many users. Returns its path and text. */
function writeBenchConfig(opts: BenchElevateOptions, listen: string, logLevel: string) {
  const tokens = [
    ...opts.users.map((u) => `${tokenOf(u)},${u},uid-${u},"devs"`),
    `${tokenOf(adminUser)},${adminUser},uid-${adminUser},"platform-admins"`,
  ];
  writeFileSync(join(opts.dir, 'tokens.csv'), `${tokens.join('\n')}\n`);
  const clusters = Object.entries(opts.clusters)
    .map(([name, kubeconfig]) => {
      const activity = opts.activityTokenFile
        ? `\n    activity: { tokenFile: ${opts.activityTokenFile} }`
        : '';
      // Credential grants too, for bench/credential-expiry.ts (users credential-user-*).
      return `  - name: ${name}\n    kubeconfig: ${kubeconfig}${activity}\n    grants: [binding, credential]`;
    })
    .join('\n');
  const file = join(opts.dir, 'elevate.yaml');
  const text = `listen: ${listen}
storage: sqlite:./elevate.db
logLevel: ${logLevel}
auth:
  tokenFile: ./tokens.csv
  admins: { groups: [platform-admins] }
clusters:
${clusters}
reconcile:
  interval: ${opts.reconcileInterval ?? '10s'}
# The expiry bench grants seconds; a deployment keeps the 1m default.
limits:
  minDuration: 1s
policies:
  - name: view-credential
    priority: 10
    match: { users: [credential-user-*], roles: [view] }
    decision: auto
    maxDuration: 8h
    grant: credential
  - name: view-auto
    match: { groups: [devs], roles: [view] }
    decision: auto
    maxDuration: 8h
`;
  writeFileSync(file, text);
  return { file, text };
}

/**
 * Silent logging by default: with pino writing a line per state change, the bench would partly time stdout.
 * BENCH_LOG_LEVEL=debug shows the server's own logs (on stdout, with the report).
 */
const logLevel = process.env.BENCH_LOG_LEVEL ?? 'silent';

/** Starts Elevate where BENCH_SERVER says (see BenchServerMode). */
export function startBenchElevate(opts: BenchElevateOptions): Promise<BenchElevate> {
  return benchServerMode === 'process' ? spawnElevate(opts) : composeInProcess(opts);
}

async function composeInProcess(opts: BenchElevateOptions): Promise<BenchElevate> {
  const { file, text } = writeBenchConfig(opts, '127.0.0.1:0', logLevel);
  const elevate = await composeElevate(parseConfig(text, file), createLogger(logLevel));
  const url = await elevate.start();
  return { url, where: 'in-process', stop: () => elevate.stop() };
}

async function spawnElevate(opts: BenchElevateOptions): Promise<BenchElevate> {
  const port = await freePort();
  const { file } = writeBenchConfig(opts, `127.0.0.1:${port}`, logLevel);
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(elevateBin, ['server', '--config', file], {
    stdio: ['ignore', logLevel === 'silent' ? 'ignore' : 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A bench that dies without cleaning up must not leave a server holding the testenv's cluster.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  void exited.then(() => process.off('exit', orphanGuard));
  const stop = () => stopChild(child, exited);
  const deadline = Date.now() + readyWithinMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`bin/elevate server exited with ${child.exitCode}`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) return { url, where: 'process', stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`bin/elevate server not ready within ${readyWithinMs} ms`);
    }
    await sleep(50);
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const stopped = await Promise.race([exited.then(() => true), sleep(exitWithinMs, false, { ref: false })]);
  if (!stopped) {
    child.kill('SIGKILL');
    await exited;
  }
}
