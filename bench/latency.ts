/**
 * Grant and revocation latency of Elevate against a real control plane, printed as numbers.
 * Run: npx tsx bench/latency.ts          (BENCH_SERVER=process: Elevate as its own process; needs make build)
 *
 * Starts its own one-cluster testenv in a temp directory and one Elevate server, and always tears both
 * down, also on error or Ctrl-C (cluster-bench.ts).
 */
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import {
  type BenchApi,
  benchApi,
  createNamespace,
  describeFailure,
  isActive,
  wallNow,
  watchBindingDeletions,
} from './bench-api.js';
import { adminUser } from './bench-elevate.js';
import { progress, report } from './bench-io.js';
import { type ClusterBench, runClusterBench } from './cluster-bench.js';
import { expiryLines, formatMs, summaryLine } from './percentile.js';

const warmupGrants = 3;
const grantCount = 50;
const revokeCount = 200;
const createConcurrency = 10;
const sarConcurrency = 50;
const grantPollMs = 5;
const grantWaitMs = 15_000;
/** The revocation sweep starts this long before the common expiry, so a grant removed early shows up. */
const sweepLeadMs = 500;
const sweepTimeoutMs = 60_000;
/**
 * How the sweep decides when to ask about a user again after its first check. `watch` (default): once the
 * bench's watch has seen the user's binding deleted (or, should that never come, `watchFallbackMs` after
 * its expiresAt), then back to back until denied. `poll` (BENCH_SWEEP=poll, the method before): from its
 * expiresAt on, round-robin over everyone — some 3,000 SARs whose load on the shared API server and CPUs
 * is itself most of what it measures.
 */
const sweepMode = process.env.BENCH_SWEEP === 'poll' ? 'poll' : 'watch';
const watchFallbackMs = 5_000;
const expiredWaitMs = 30_000;

const userName = (i: number) => `bench-user-${String(i).padStart(3, '0')}`;

/** Runs `work` over `items` with at most `limit` in flight. */
async function pool<T>(
  items: readonly T[],
  limit: number,
  stopping: AbortSignal,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      stopping.throwIfAborted();
      await work(items[next++] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

interface GrantSample {
  postMs: number;
  allowedMs: number;
  /** allowed − POST response; negative when RBAC already allowed before the response arrived. */
  afterResponseMs: number;
}

/**
 * One auto-approved request, timed from sending the POST until a SubjectAccessReview for the user says
 * allowed. SARs are polled while the POST is in flight, since the binding exists before the response.
 */
async function timeOneGrant(
  { sar, pause, stopping }: ClusterBench,
  api: BenchApi,
  user: string,
  namespace: string,
): Promise<GrantSample | string> {
  const start = performance.now();
  let postEnd: number | undefined;
  let postFailure: string | undefined;
  const post = api.requestAccess(user, namespace, 10 * 60_000).then(
    (r) => {
      postEnd = performance.now();
      if (!isActive(r)) postFailure = describeFailure(r);
    },
    (e: Error) => {
      postEnd = performance.now();
      postFailure = e.message;
    },
  );
  let allowedAt: number | undefined;
  while (postFailure === undefined && performance.now() - start < grantWaitMs) {
    stopping.throwIfAborted();
    if (await sar.allowed(user, namespace)) {
      allowedAt = performance.now();
      break;
    }
    await pause(grantPollMs);
  }
  await post;
  if (postFailure !== undefined) return postFailure;
  if (allowedAt === undefined || postEnd === undefined) return `not allowed within ${grantWaitMs} ms`;
  return { postMs: postEnd - start, allowedMs: allowedAt - start, afterResponseMs: allowedAt - postEnd };
}

async function benchGrants(bench: ClusterBench, api: BenchApi): Promise<number[]> {
  const namespace = 'bench-grant';
  await createNamespace(bench.cluster.kubeconfigPath, namespace);
  // The first requests pay for JIT, TLS handshakes and SQLite page cache; they are not what is measured.
  for (let i = 0; i < warmupGrants; i++) await timeOneGrant(bench, api, userName(i), namespace);

  progress(`grant latency: ${grantCount} sequential auto-approved requests`);
  const samples: GrantSample[] = [];
  const failures: string[] = [];
  const started = performance.now();
  for (let i = 0; i < grantCount; i++) {
    const r = await timeOneGrant(bench, api, userName(warmupGrants + i), namespace);
    if (typeof r === 'string') failures.push(r);
    else samples.push(r);
  }
  const wallMs = performance.now() - started;

  report('1. Grant latency (POST sent -> SubjectAccessReview allowed)');
  report(
    `  ${grantCount} sequential requests, each a different user, one namespace; SAR polled every ${grantPollMs} ms`,
  );
  report(
    summaryLine(
      'POST -> SAR allowed',
      samples.map((s) => s.allowedMs),
    ),
  );
  report(
    summaryLine(
      'POST round-trip (201 Active)',
      samples.map((s) => s.postMs),
    ),
  );
  report(
    summaryLine(
      'SAR allowed - POST response',
      samples.map((s) => s.afterResponseMs),
    ),
  );
  report(`  sequential throughput: ${((samples.length / wallMs) * 1000).toFixed(1)} grants/s`);
  if (failures.length > 0) report(`  FAILED: ${failures.length} (first: ${failures[0]})`);
  report();
  return samples.map((s) => s.postMs);
}

interface Expiring {
  user: string;
  id: string;
  expiresAt: number;
  /** Send time of the last SAR that still said allowed: the grant was in force at or after this. */
  lastAllowedSentAt?: number;
  /** Receipt time of the first SAR that said denied: the grant was gone at or before this. */
  deniedAt?: number;
  /** Asked about again from now on, until denied. */
  due?: boolean;
  /** In the ready queue or being asked about now: never twice at once. */
  queued?: boolean;
}

/** Creates `revokeCount` grants, 10 at a time, all asked to expire at the same whole second. */
async function createExpiring(bench: ClusterBench, api: BenchApi, namespace: string, postMs: number[]) {
  const users = Array.from({ length: revokeCount }, (_, i) => userName(warmupGrants + grantCount + i));
  // Budget as if the concurrent creates got no speedup at all over sequential ones, plus slack.
  const sequentialMs = revokeCount * (postMs.reduce((a, b) => a + b, 0) / Math.max(1, postMs.length));
  const leadMs = Math.max(5_000, 2 * sequentialMs + sweepLeadMs + 2_000);
  const target = Math.ceil((wallNow() + leadMs) / 1000) * 1000;
  progress(
    `revocation latency: creating ${revokeCount} grants expiring at ${new Date(target).toISOString()} (in ${Math.round(target - wallNow())} ms)`,
  );
  const grants: Expiring[] = [];
  const failures: string[] = [];
  let tooLate = 0;
  const createStart = performance.now();
  await pool(users, createConcurrency, bench.stopping, async (user) => {
    const durationMs = Math.round(target - wallNow());
    if (durationMs < sweepLeadMs + 1_000) {
      // Granting so close to the target would put the grant inside the sweep before it exists.
      tooLate++;
      return;
    }
    try {
      const r = await api.requestAccess(user, namespace, durationMs);
      if (!isActive(r)) failures.push(describeFailure(r));
      else
        grants.push({
          user,
          id: r.body.metadata.name,
          expiresAt: Date.parse(r.body.status.grant?.expiresAt ?? ''),
        });
    } catch (e) {
      failures.push((e as Error).message);
    }
  });
  return { target, grants, failures, tooLate, createMs: performance.now() - createStart };
}

/**
 * Asks about every user once, then again (back to back, until denied) from the moment `becomesDue` marks it
 * due. Several users are asked at once, up to sarConcurrency.
 */
async function sweep(bench: ClusterBench, namespace: string, grants: Expiring[]) {
  const { sar, pause, stopping } = bench;
  const ready: Expiring[] = grants.map((g) => Object.assign(g, { queued: true }));
  let wake: (() => void) | undefined;
  const enqueue = (g: Expiring) => {
    g.queued = true;
    ready.push(g);
    wake?.();
  };
  const markDue = (g: Expiring) => {
    if (g.due || g.deniedAt !== undefined) return;
    g.due = true;
    if (!g.queued) enqueue(g);
  };
  let open = grants.length;
  const deadline = wallNow() + sweepTimeoutMs;
  const stats = { calls: 0, errors: 0, rtts: [] as number[] };
  const worker = async () => {
    while (open > 0 && wallNow() < deadline) {
      stopping.throwIfAborted();
      const g = ready.shift();
      if (!g) {
        await Promise.race([new Promise<void>((r) => (wake = r)), pause(20)]);
        continue;
      }
      const sentAt = wallNow();
      try {
        const allowed = await sar.allowed(g.user, namespace);
        stats.calls++;
        stats.rtts.push(wallNow() - sentAt);
        g.queued = false;
        if (!allowed) {
          g.deniedAt = wallNow();
          open--;
        } else {
          g.lastAllowedSentAt = sentAt;
          if (g.due) enqueue(g);
        }
      } catch {
        stats.errors++;
        enqueue(g);
        await pause(50);
      }
    }
  };
  return { markDue, run: () => Promise.all(Array.from({ length: sarConcurrency }, worker)), stats };
}

async function benchRevocation(bench: ClusterBench, api: BenchApi, postMs: number[]): Promise<void> {
  const { sar, pause, stopping, cluster } = bench;
  const namespace = 'bench-revoke';
  await createNamespace(cluster.kubeconfigPath, namespace);
  const deletions = await watchBindingDeletions(cluster.kubeconfigPath, namespace);
  const { target, grants, failures, tooLate, createMs } = await createExpiring(bench, api, namespace, postMs);
  const spare = target - wallNow();

  // Every grant should be in force before the sweep starts; one that is not would skew the numbers.
  let allowedBefore = 0;
  await pool(grants, sarConcurrency, stopping, async (g) => {
    if (await sar.allowed(g.user, namespace)) allowedBefore++;
  });

  const waitMs = target - sweepLeadMs - wallNow();
  if (waitMs > 0) await pause(waitMs);

  progress(`sweeping ${grants.length} users with up to ${sarConcurrency} SARs in flight (${sweepMode})`);
  const sweeping = await sweep(bench, namespace, grants);
  const byId = new Map(grants.map((g) => [g.id, g]));
  const timers = grants.map((g) => {
    const at = sweepMode === 'poll' ? g.expiresAt : g.expiresAt + watchFallbackMs;
    return setTimeout(() => sweeping.markDue(g), Math.max(0, at - wallNow()));
  });
  if (sweepMode === 'watch') {
    deletions.onDeleted = (id) => {
      const g = byId.get(id);
      if (g) sweeping.markDue(g);
    };
    for (const id of deletions.seen.keys()) deletions.onDeleted(id);
  }
  const sweepStart = wallNow();
  // In-process, Elevate shares this event loop: a stalled loop delays its timers and DELETEs as much as our SARs.
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  await sweeping.run();
  const sweepMs = wallNow() - sweepStart;
  loopDelay.disable();
  for (const t of timers) clearTimeout(t);
  deletions.stop();

  const denied = grants.flatMap((g) => (g.deniedAt === undefined ? [] : [{ ...g, deniedAt: g.deniedAt }]));
  const early = denied.filter((g) => g.lastAllowedSentAt === undefined || g.deniedAt < g.expiresAt).length;
  const expiries = grants.map((g) => g.expiresAt);
  const firstExpiry = Math.min(...expiries);
  const lastExpiry = Math.max(...expiries);
  const phases = await phasesOnceExpired(bench, api, grants);
  const removedAt = await api.grantExpiredTimes();
  report('2. Revocation latency (grant expiresAt -> SubjectAccessReview denied)');
  report(
    `  target expiry ${new Date(target).toISOString()}; Elevate ${bench.elevate.where}; ` +
      `load average after ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
  );
  report(
    `  created ${grants.length}/${revokeCount} grants in ${createMs.toFixed(0)} ms with ${createConcurrency} in flight ` +
      `(${((grants.length / createMs) * 1000).toFixed(1)} grants/s), ${spare.toFixed(0)} ms to spare`,
  );
  if (failures.length > 0) report(`  FAILED creates: ${failures.length} (first: ${failures[0]})`);
  if (tooLate > 0) report(`  SKIPPED: ${tooLate} grants could not be created in time for the target`);
  report(
    `  expiresAt as returned: ${new Date(firstExpiry).toISOString()} .. ${new Date(lastExpiry).toISOString()} ` +
      `(spread ${formatMs(lastExpiry - firstExpiry)}, ${formatMs(firstExpiry - target)} .. ${formatMs(lastExpiry - target)} after target)`,
  );
  report(`  allowed just before the sweep: ${allowedBefore}/${grants.length}`);
  report(
    sweepMode === 'poll'
      ? '  sweep (poll): each user once at the start, then round-robin from its expiresAt on'
      : '  sweep (watch): each user once at the start, then back to back from when its binding was seen deleted',
  );
  const { calls, errors, rtts } = sweeping.stats;
  report(
    `  sweep: ${calls} SARs in ${sweepMs.toFixed(0)} ms (${((calls / sweepMs) * 1000).toFixed(0)} SAR/s)` +
      `${errors > 0 ? `, ${errors} SAR errors` : ''}`,
  );
  report(summaryLine('SAR round-trip during the sweep', rtts));
  report(
    `  bench event-loop delay during the sweep: p50 ${formatMs(loopDelay.percentile(50) / 1e6)}, ` +
      `p99 ${formatMs(loopDelay.percentile(99) / 1e6)}, max ${formatMs(loopDelay.max / 1e6)}`,
  );
  for (const line of expiryLines(grants, removedAt, deletions.seen, { lowerBound: sweepMode === 'poll' })) {
    report(line);
  }
  if (denied.length > 0) {
    const lastDenied = Math.max(...denied.map((g) => g.deniedAt));
    report(
      `  all access gone ${formatMs(lastDenied - lastExpiry)} after the last expiresAt ` +
        `(${formatMs(lastDenied - firstExpiry)} after the first)`,
    );
  }
  report(
    `  denied: ${denied.length}/${grants.length}; denied before expiresAt or before the sweep: ${early}`,
  );
  report(
    `  phase via GET as admin: ${[...phases.entries()].map(([p, n]) => `${p} ${n}`).join(', ')} (of ${grants.length})`,
  );
  report();
}

/** The server marks a grant Expired after deleting its binding; gives it a moment, then counts the phases. */
async function phasesOnceExpired(bench: ClusterBench, api: BenchApi, grants: Expiring[]) {
  const { pause, stopping } = bench;
  const phaseOf = async (id: string) => {
    const r = await api.call(adminUser, 'GET', `/accessrequests/${id}`);
    return r.status === 200 && 'status' in r.body ? r.body.status.phase : `HTTP ${r.status}`;
  };
  const stillActive = new Set(grants.map((g) => g.id));
  const deadline = wallNow() + expiredWaitMs;
  while (stillActive.size > 0 && wallNow() < deadline) {
    await pool([...stillActive], createConcurrency, stopping, async (id) => {
      if ((await phaseOf(id)) === 'Expired') stillActive.delete(id);
    });
    if (stillActive.size > 0) await pause(200);
  }
  const phases = new Map<string, number>();
  await pool(grants, createConcurrency, stopping, async (g) => {
    const phase = await phaseOf(g.id);
    phases.set(phase, (phases.get(phase) ?? 0) + 1);
  });
  return phases;
}

const users = Array.from({ length: warmupGrants + grantCount + revokeCount }, (_, i) => userName(i));
runClusterBench({ users, sarSockets: sarConcurrency + 8, overallTimeoutMs: 10 * 60_000 }, async (bench) => {
  const api = benchApi(bench.elevate.url, bench.stopping);
  report(`Elevate latency bench — ${new Date().toISOString()}`);
  report(
    `  node ${process.version}, ${cpus().length} CPUs, 1 local cluster (etcd + kube-apiserver), SQLite store, ` +
      `Elevate ${bench.elevate.where}; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
  );
  report();
  const postMs = await benchGrants(bench, api);
  await benchRevocation(bench, api, postMs);
});
