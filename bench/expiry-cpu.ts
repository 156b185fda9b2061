/**
 * What one expired grant costs Elevate: CPU time, SQLite statements and API-server calls per grant, for a
 * burst of grants all expiring in the same second. Unlike the latency benches, these numbers hardly move
 * with the machine's load (a busy machine delays the work; it does not make more of it), so they compare
 * two versions of the code on a shared machine.
 * Run: npx tsx bench/expiry-cpu.ts [grants] [rounds]      (default 200 grants, 3 rounds)
 *      BENCH_CPU_PROFILE=dir npx tsx bench/expiry-cpu.ts   also writes a CPU profile of each burst to dir
 *
 * Elevate always runs in this process (the CPU it uses is this process's); the bench itself only waits
 * during a burst: no SARs, no watch. Each burst's window is compared with an idle window of the same length.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import Database from 'better-sqlite3';
import { benchApi, createNamespace, describeFailure, isActive, wallNow } from './bench-api.js';
import { benchServerMode } from './bench-elevate.js';
import { progress, report } from './bench-io.js';
import { runClusterBench } from './cluster-bench.js';

const grantsPerRound = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 3);
const profileDir = process.env.BENCH_CPU_PROFILE;
const namespace = 'bench-expiry-cpu';
/** The burst's window: from shortly before the common expiry until well after the last one is settled. */
const windowBeforeMs = 300;
const windowAfterMs = 4_000;
const userName = (i: number) => `cpu-user-${String(i).padStart(4, '0')}`;

if (benchServerMode !== 'in-process') throw new Error('expiry-cpu.ts measures Elevate in this process only');

/** SQLite statements executed, by their first word (SELECT, UPDATE, INSERT, BEGIN, COMMIT, …). */
const statements = new Map<string, number>();
{
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('select 1')) as Record<string, unknown>;
  probe.close();
  for (const method of ['run', 'get', 'all', 'iterate']) {
    const original = proto[method] as (...args: unknown[]) => unknown;
    proto[method] = function (this: { source: string }, ...args: unknown[]) {
      const kind = /^\s*(\w+)/.exec(this.source)?.[1]?.toUpperCase() ?? '?';
      statements.set(kind, (statements.get(kind) ?? 0) + 1);
      return original.apply(this, args);
    };
  }
}

/** The API server's own request counters (verb and resource), read from its /metrics as the admin. */
async function apiServerCounts(kubeconfigPath: string): Promise<Map<string, number>> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const server = kc.getCurrentCluster()?.server ?? '';
  const options: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  const text = await new Promise<string>((resolve, reject) => {
    https
      .get(new URL('/metrics', server), options, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const verb = /verb="(\w+)"/.exec(line)?.[1];
    const resource = /resource="([\w.]+)"/.exec(line)?.[1];
    if (!verb || !resource || verb === 'WATCH') continue;
    const key = `${verb} ${resource}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counts;
}

const diff = (after: Map<string, number>, before: Map<string, number>) =>
  new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter(([, v]) => v > 0));

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

interface Round {
  grants: number;
  expired: number;
  burstCpuMs: number;
  idleCpuMs: number;
  /** The event loop's busy time in the window: CPU plus whatever blocks it (SQLite's fsync at commit). */
  burstLoopMs: number;
  idleLoopMs: number;
  statements: Map<string, number>;
  calls: Map<string, number>;
}

const users = Array.from({ length: grantsPerRound * rounds }, (_, i) => userName(i));
// No periodic drift pass lands in a window: it would list every binding and request and blur the numbers.
runClusterBench(
  { users, sarSockets: 1, overallTimeoutMs: 10 * 60_000, reconcileInterval: '1h' },
  async (bench) => {
    const { pause, stopping, cluster, elevate } = bench;
    const api = benchApi(elevate.url, stopping);
    await createNamespace(cluster.kubeconfigPath, namespace);
    const session = new Session();
    if (profileDir) {
      mkdirSync(profileDir, { recursive: true });
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
    }
    const results: Round[] = [];

    for (let round = 0; round < rounds; round++) {
      const mine = users.slice(round * grantsPerRound, (round + 1) * grantsPerRound);
      // Created 10 at a time, which takes a few seconds: all asked to end at the same whole second.
      const target = Math.ceil((wallNow() + 5_000 + grantsPerRound * 40) / 1000) * 1000;
      progress(`round ${round + 1}: ${grantsPerRound} grants expiring at ${new Date(target).toISOString()}`);
      const ids: string[] = [];
      let lastExpiry = 0;
      await pool(mine, 10, async (user) => {
        const r = await api.requestAccess(user, namespace, Math.round(target - wallNow()));
        if (!isActive(r)) throw new Error(`grant for ${user}: ${describeFailure(r)}`);
        ids.push(r.body.metadata.name);
        lastExpiry = Math.max(lastExpiry, Date.parse(r.body.status.grant?.expiresAt ?? ''));
      });
      const windowMs = lastExpiry + windowAfterMs - (target - windowBeforeMs);
      await pause(Math.max(0, target - windowBeforeMs - wallNow()));

      const callsBefore = await apiServerCounts(cluster.kubeconfigPath);
      statements.clear();
      if (profileDir) await session.post('Profiler.start');
      const cpuBefore = process.cpuUsage();
      const loopBefore = performance.eventLoopUtilization();
      await pause(windowMs);
      const burstCpuMs = cpuMs(process.cpuUsage(cpuBefore));
      const burstLoopMs = performance.eventLoopUtilization(loopBefore).active;
      if (profileDir) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(join(profileDir, `burst-${round + 1}.cpuprofile`), JSON.stringify(profile));
      }
      const burstStatements = new Map(statements);
      const calls = diff(await apiServerCounts(cluster.kubeconfigPath), callsBefore);

      const idleBefore = process.cpuUsage();
      const idleLoopBefore = performance.eventLoopUtilization();
      await pause(windowMs);
      const idleCpuMs = cpuMs(process.cpuUsage(idleBefore));
      const idleLoopMs = performance.eventLoopUtilization(idleLoopBefore).active;

      const expiredAt = await api.grantExpiredTimes();
      const expired = ids.filter((id) => expiredAt.has(id)).length;
      results.push({
        grants: ids.length,
        expired,
        burstCpuMs,
        idleCpuMs,
        burstLoopMs,
        idleLoopMs,
        statements: burstStatements,
        calls,
      });
    }
    if (profileDir) session.disconnect();

    report(`Elevate expiry CPU bench — ${new Date().toISOString()}`);
    report(
      `  node ${process.version}, ${cpus().length} CPUs, 1 local cluster, SQLite store, Elevate in-process; ` +
        `load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
    );
    report(
      `  ${rounds} rounds of ${grantsPerRound} grants expiring in the same second; per expired grant, ` +
        `the burst window's CPU minus an idle window's as long`,
    );
    report();
    for (const [i, r] of results.entries()) {
      const per = (n: number) => (n / r.expired).toFixed(2);
      const list = (m: Map<string, number>) =>
        [...m]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${k} ${per(v)}`)
          .join(', ');
      report(
        `  round ${i + 1}: ${r.expired}/${r.grants} expired; CPU ${((r.burstCpuMs - r.idleCpuMs) / r.expired).toFixed(2)} ms ` +
          `per grant (burst ${r.burstCpuMs.toFixed(0)} ms, idle ${r.idleCpuMs.toFixed(0)} ms); event loop busy ` +
          `${((r.burstLoopMs - r.idleLoopMs) / r.expired).toFixed(2)} ms per grant`,
      );
      report(`    SQLite statements per grant: ${list(r.statements)}`);
      report(`    API-server requests per grant: ${list(r.calls)}`);
    }
    report();
  },
);
