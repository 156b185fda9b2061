/**
 * A single grant's expiry, one at a time: how long after its expiresAt the API server denies the user.
 * Run: npx tsx bench/expiry.ts [runs]      (BENCH_SERVER=process: Elevate as its own process; needs make build)
 *
 * Starts its own one-cluster testenv in a temp directory and one Elevate server, and always tears both
 * down, also on error or Ctrl-C (cluster-bench.ts).
 */
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  benchApi,
  createNamespace,
  describeFailure,
  isActive,
  wallNow,
  watchBindingDeletions,
} from './bench-api.js';
import { progress, report } from './bench-io.js';
import { runClusterBench } from './cluster-bench.js';
import { expiryLines, summaryLine } from './percentile.js';

const runs = Number(process.argv[2] ?? 50);
const warmups = 3;
/** Long enough to see the grant allowed before it ends; the policy's minDuration is 1s. */
const grantMs = 2_000;
/** SARs start this long before expiresAt, so a grant removed early would show. */
const pollLeadMs = 20;
/** Gives up on a run whose access outlives its expiresAt by this much. */
const deniedWithinMs = 10_000;
const namespace = 'bench-expiry';
const userName = (i: number) => `expiry-user-${String(i).padStart(3, '0')}`;

interface Run {
  id: string;
  expiresAt: number;
  /** Send time of the last SAR that still said allowed. */
  lastAllowedSentAt?: number;
  /** Receipt time of the first SAR that said denied. */
  deniedAt: number;
  /** Send time of the first SAR (meant to be pollLeadMs before expiresAt; later on a loaded machine). */
  firstSentAt: number;
  sars: number;
}

const users = Array.from({ length: warmups + runs }, (_, i) => userName(i));
runClusterBench({ users, sarSockets: 4, overallTimeoutMs: 10 * 60_000 }, async (bench) => {
  const { sar, pause, stopping, cluster, elevate } = bench;
  const api = benchApi(elevate.url, stopping);
  await createNamespace(cluster.kubeconfigPath, namespace);
  const deletions = await watchBindingDeletions(cluster.kubeconfigPath, namespace);
  // Only while SARs are polled, i.e. around each expiry: in-process, Elevate's timer and DELETE share it.
  // One monitor per run: a monitor enabled again would count the idle gap since as one delay.
  const worstLoopDelayMs: number[] = [];
  const rtts: number[] = [];
  let pollMs = 0;

  /** One grant, from its POST until a SAR denies it; SARs back to back, one in flight, from just before. */
  async function oneRun(user: string): Promise<Run> {
    const r = await api.requestAccess(user, namespace, grantMs);
    if (!isActive(r)) throw new Error(`grant for ${user}: ${describeFailure(r)}`);
    const id = r.body.metadata.name;
    const expiresAt = Date.parse(r.body.status.grant?.expiresAt ?? '');
    while (!(await sar.allowed(user, namespace))) {
      if (wallNow() > expiresAt - pollLeadMs) throw new Error(`${user} was never allowed before expiresAt`);
      await pause(10);
    }
    await pause(Math.max(0, expiresAt - pollLeadMs - wallNow()));
    const run: Run = { id, expiresAt, deniedAt: 0, firstSentAt: 0, sars: 0 };
    const pollStart = wallNow();
    const runDelay = monitorEventLoopDelay({ resolution: 1 });
    runDelay.enable();
    try {
      for (;;) {
        stopping.throwIfAborted();
        const sentAt = wallNow();
        const allowed = await sar.allowed(user, namespace);
        if (run.sars++ === 0) run.firstSentAt = sentAt;
        rtts.push(wallNow() - sentAt);
        if (!allowed) {
          run.deniedAt = wallNow();
          return run;
        }
        run.lastAllowedSentAt = sentAt;
        if (sentAt > expiresAt + deniedWithinMs)
          throw new Error(`${user} still allowed ${deniedWithinMs} ms on`);
      }
    } finally {
      runDelay.disable();
      worstLoopDelayMs.push(runDelay.max / 1e6);
      pollMs += wallNow() - pollStart;
    }
  }

  progress(`single-grant expiry: ${warmups} warm-ups, then ${runs} runs of a ${grantMs} ms grant`);
  for (let i = 0; i < warmups; i++) await oneRun(userName(i));
  worstLoopDelayMs.length = 0;
  rtts.length = 0;
  pollMs = 0;
  const results: Run[] = [];
  for (let i = 0; i < runs; i++) {
    results.push(await oneRun(userName(warmups + i)));
    if ((i + 1) % 10 === 0) progress(`  ${i + 1}/${runs}`);
  }
  deletions.stop();
  const expiredAt = await api.grantExpiredTimes();
  const sars = results.reduce((n, r) => n + r.sars, 0);
  // Denied by an answer received before expiresAt: access ended early. (A SAR sent just before expiresAt is
  // judged when the API server gets to it, which may be after: its send time proves nothing.) Polling that
  // only began after expiresAt (the bench's own timer late on a loaded machine) is counted apart.
  const early = results.filter((r) => r.deniedAt < r.expiresAt).length;
  const late = results.filter((r) => r.firstSentAt >= r.expiresAt).length;

  report(`Elevate single-grant expiry bench — ${new Date().toISOString()}`);
  report(
    `  node ${process.version}, ${cpus().length} CPUs, 1 local cluster (etcd + kube-apiserver), SQLite store, ` +
      `Elevate ${elevate.where}; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
  );
  report(
    `  ${runs} runs after ${warmups} warm-ups, one ${grantMs} ms view grant at a time; SARs back to back, one ` +
      `in flight, from ${pollLeadMs} ms before expiresAt until denied`,
  );
  report();
  for (const line of expiryLines(results, expiredAt, deletions.seen, { lowerBound: true })) report(line);
  report(summaryLine('SAR round-trip while polling', rtts));
  report(
    `  ${sars} SARs in ${pollMs.toFixed(0)} ms of polling (${((sars / pollMs) * 1000).toFixed(0)} SAR/s)`,
  );
  report(summaryLine("bench's worst event-loop delay per run", worstLoopDelayMs));
  report(`  denied before expiresAt: ${early}; polling began only after expiresAt: ${late}`);
  report();
});
