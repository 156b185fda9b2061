/**
 * Lease takeover: how long after the leader dies or is cut off from PostgreSQL another server leads, and
 * (after a cut) how long the old leader went on believing it leads. Printed as numbers.
 * Run: npx tsx bench/lease-takeover.ts [rounds]   (after `make build`; needs scripts/ensure-postgres.sh)
 *
 * Each round starts two `bin/elevate server` processes on one fresh database, the first one (the leader)
 * through a TCP proxy. "kill -9" kills the leader's process; "partition" black-holes the proxy (bytes
 * vanish both ways, no connection is closed, as when the network drops packets). Leadership is read from
 * each server's /readyz every 5 ms. The cluster in the config refuses connections: the lease does not
 * depend on it, and no testenv is needed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/testenv/free-port.js';
import { createDatabase, startPostgres } from '../test/support/postgres-server.js';
import { startTcpProxy } from '../test/support/tcp-proxy.js';
import { elevateBin, progress, repo, report, runBench } from './bench-io.js';
import { summaryLine } from './percentile.js';

const rounds = Number(process.argv[2] ?? 5);
const pollMs = 5;
const waitLimitMs = 60_000;
const overallTimeoutMs = 15 * 60_000;

async function writeConfig(dir: string, storage: string): Promise<{ config: string; url: string }> {
  const port = await freePort();
  writeFileSync(join(dir, 'tokens.csv'), 'token-root,root,uid-root,"admins"\n');
  const kubeconfig = join(dir, 'nowhere.kubeconfig');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
  );
  const config = join(dir, 'elevate.yaml');
  writeFileSync(
    config,
    `listen: 127.0.0.1:${port}
storage: ${storage}
logLevel: silent
auth:
  tokenFile: ./tokens.csv
  admins: { groups: [admins] }
clusters:
  - name: dev
    kubeconfig: ${kubeconfig}
reconcile:
  interval: 10m
policies: []
`,
  );
  return { config, url: `http://127.0.0.1:${port}` };
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + waitLimitMs;
  while (!(await check().catch(() => false))) {
    if (performance.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(pollMs);
  }
}

const leads = async (url: string) =>
  ((await (await fetch(`${url}/readyz`)).json()) as { leader?: boolean }).leader === true;

interface Round {
  /** From the kill or the cut until the other server says it leads. */
  takeoverMs: number;
  /** From the cut until the old leader says it no longer leads (partition only). */
  stepDownMs?: number;
}

async function oneRound(serverUrl: string, kind: 'kill -9' | 'partition'): Promise<Round> {
  const storage = await createDatabase(serverUrl, 'bench_lease');
  const db = new URL(storage);
  const proxy = await startTcpProxy({ host: db.hostname, port: Number(db.port) });
  const viaProxy = new URL(storage);
  viaProxy.port = String(proxy.port());
  const dir = mkdtempSync(join(tmpdir(), 'elevate-bench-lease-'));
  const children: ChildProcess[] = [];
  const start = async (name: string, url: string) => {
    const sub = join(dir, name);
    rmSync(sub, { recursive: true, force: true });
    mkdirSync(sub);
    const server = await writeConfig(sub, url);
    const child = spawn(elevateBin, ['server', '--config', server.config], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    await until(`${name} to be ready`, async () => (await fetch(`${server.url}/readyz`)).status === 200);
    return { child, url: server.url };
  };
  try {
    const first = await start('first', viaProxy.toString());
    await until('the first server to lead', () => leads(first.url));
    const second = await start('second', storage);
    if (await leads(second.url)) throw new Error('both lead');
    const t0 = performance.now();
    let stepDownMs: number | undefined;
    if (kind === 'kill -9') {
      first.child.kill('SIGKILL');
    } else {
      proxy.blackhole();
      void until('the old leader to stop leading', async () => !(await leads(first.url))).then(() => {
        stepDownMs = performance.now() - t0;
      });
    }
    await until('the other server to lead', () => leads(second.url));
    const takeoverMs = performance.now() - t0;
    if (kind === 'partition') await until('the step-down to be seen', async () => stepDownMs !== undefined);
    return { takeoverMs, ...(stepDownMs === undefined ? {} : { stepDownMs }) };
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await proxy.cut();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (!existsSync(join(repo, 'dist/cli/main.js')))
    throw new Error('run `make build` first (bin/elevate runs dist/)');
  const postgres = await startPostgres();
  const bail = (why: string, code: number) => {
    progress(why);
    postgres.stop();
    process.exit(code);
  };
  process.once('SIGINT', () => bail('interrupted; cleaning up', 130));
  process.once('SIGTERM', () => bail('terminated; cleaning up', 143));
  const watchdog = setTimeout(() => bail(`gave up after ${overallTimeoutMs / 1000} s`, 1), overallTimeoutMs);
  try {
    const results: Record<string, Round[]> = { 'kill -9': [], partition: [] };
    for (const kind of ['kill -9', 'partition'] as const) {
      for (let i = 0; i < rounds; i++) {
        const r = await oneRound(postgres.url, kind);
        progress(
          `${kind} ${i + 1}/${rounds}: takeover ${r.takeoverMs.toFixed(0)} ms` +
            (r.stepDownMs === undefined ? '' : `, old leader stopped ${r.stepDownMs.toFixed(0)} ms`),
        );
        results[kind]?.push(r);
      }
    }
    report(`Elevate lease takeover bench — ${new Date().toISOString()}`);
    report(`  node ${process.version}, ${cpus().length} CPUs, 2 bin/elevate servers on one PostgreSQL`);
    report();
    report(
      summaryLine(
        'kill -9 -> other leads',
        (results['kill -9'] ?? []).map((r) => r.takeoverMs),
      ),
    );
    report(
      summaryLine(
        'cut -> old leader stops',
        (results.partition ?? []).map((r) => r.stepDownMs ?? Number.NaN),
      ),
    );
    report(
      summaryLine(
        'cut -> other leads',
        (results.partition ?? []).map((r) => r.takeoverMs),
      ),
    );
  } finally {
    clearTimeout(watchdog);
    postgres.stop();
  }
}

runBench(main);
