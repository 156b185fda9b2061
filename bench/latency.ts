/**
 * Grant and revocation latency of Elevate against a real control plane, printed as numbers.
 * Run: npx tsx bench/latency.ts
 *
 * Starts its own one-cluster testenv in a temp directory and one in-process Elevate server, and always
 * tears both down, also on error or Ctrl-C.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { testenvDown, testenvUp } from '../src/testenv/testenv.js';
import { adminUser, type BenchElevate, startBenchElevate, tokenOf } from './bench-elevate.js';
import { progress, report, runBench } from './bench-io.js';
import { formatMs, summaryLine } from './percentile.js';
import { createSarClient, type SarClient } from './sar-client.js';

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
const expiredWaitMs = 30_000;
const stopTimeoutMs = 10_000;
/** Whatever happens, the bench stops (and cleans up) after this long. */
const overallTimeoutMs = 10 * 60_000;

/** Aborted on Ctrl-C, SIGTERM or the watchdog, so every loop and wait below stops at once. */
const stopping = new AbortController();
const pause = (ms: number) => sleep(ms, undefined, { signal: stopping.signal });
const checkStopping = () => stopping.signal.throwIfAborted();

/** Wall-clock milliseconds with sub-millisecond resolution, comparable to the server's ISO timestamps. */
const wallNow = () => performance.timeOrigin + performance.now();
const userName = (i: number) => `bench-user-${String(i).padStart(3, '0')}`;

interface AccessRequestBody {
  metadata: { name: string };
  status: { phase: string; message: string; grant: { expiresAt: string } | null };
}

interface ApiResult {
  status: number;
  body: AccessRequestBody | { detail?: string; title?: string };
}

async function callApi(url: string, user: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${tokenOf(user)}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(30_000)]),
  });
  return { status: res.status, body: (await res.json()) as ApiResult['body'] };
}

function requestAccess(url: string, user: string, namespace: string, durationMs: number) {
  return callApi(url, user, 'POST', '/accessrequests', {
    spec: { cluster: 'dev', role: 'view', namespace, duration: `${durationMs}ms`, reason: 'bench' },
  });
}

function isActive(r: ApiResult): r is { status: number; body: AccessRequestBody } {
  return r.status === 201 && 'status' in r.body && r.body.status.phase === 'Active';
}

function describeFailure(r: ApiResult): string {
  const b = r.body as { detail?: string; title?: string; status?: { phase?: string; message?: string } };
  return `HTTP ${r.status}: ${b.detail ?? b.title ?? `${b.status?.phase}: ${b.status?.message}`}`;
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      checkStopping();
      await work(items[next++] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function createNamespace(kubeconfigPath: string, name: string): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name } } });
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
  url: string,
  sar: SarClient,
  user: string,
  namespace: string,
): Promise<GrantSample | string> {
  const start = performance.now();
  let postEnd: number | undefined;
  let postFailure: string | undefined;
  const post = requestAccess(url, user, namespace, 10 * 60_000).then(
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
    checkStopping();
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

async function benchGrants(url: string, sar: SarClient, kubeconfigPath: string): Promise<number[]> {
  const namespace = 'bench-grant';
  await createNamespace(kubeconfigPath, namespace);
  // The first requests pay for JIT, TLS handshakes and SQLite page cache; they are not what is measured.
  for (let i = 0; i < warmupGrants; i++) await timeOneGrant(url, sar, userName(i), namespace);

  progress(`grant latency: ${grantCount} sequential auto-approved requests`);
  const samples: GrantSample[] = [];
  const failures: string[] = [];
  const started = performance.now();
  for (let i = 0; i < grantCount; i++) {
    const r = await timeOneGrant(url, sar, userName(warmupGrants + i), namespace);
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

/**
 * When the server recorded each grant as expired: its GrantExpired audit event is written right after the
 * binding's DELETE returned, so it splits the revocation latency into Elevate's part and RBAC's part.
 */
async function grantExpiredTimes(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/api/v1/audit/export?format=jsonl`, {
    headers: { authorization: `Bearer ${tokenOf(adminUser)}` },
    signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(30_000)]),
  });
  const times = new Map<string, number>();
  if (!res.ok) return times;
  for (const line of (await res.text()).split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line) as { action: string; requestId: string | null; time: string };
    if (e.action === 'GrantExpired' && e.requestId) times.set(e.requestId, Date.parse(e.time));
  }
  return times;
}

interface Expiring {
  user: string;
  id: string;
  expiresAt: number;
  /** Send time of the last SAR that still said allowed: the grant was in force at or after this. */
  lastAllowedSentAt?: number;
  /** Receipt time of the first SAR that said denied: the grant was gone at or before this. */
  deniedAt?: number;
  swept?: boolean;
}

async function benchRevocation(
  url: string,
  sar: SarClient,
  kubeconfigPath: string,
  postMs: number[],
): Promise<void> {
  const namespace = 'bench-revoke';
  await createNamespace(kubeconfigPath, namespace);
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
  await pool(users, createConcurrency, async (user) => {
    const durationMs = Math.round(target - wallNow());
    if (durationMs < sweepLeadMs + 1_000) {
      // Granting so close to the target would put the grant inside the sweep before it exists.
      tooLate++;
      return;
    }
    try {
      const r = await requestAccess(url, user, namespace, durationMs);
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
  const createMs = performance.now() - createStart;
  const spare = target - wallNow();

  // Every grant should be in force before the sweep starts; one that is not would skew the numbers.
  let allowedBefore = 0;
  await pool(grants, sarConcurrency, async (g) => {
    if (await sar.allowed(g.user, namespace)) allowedBefore++;
  });

  const waitMs = target - sweepLeadMs - wallNow();
  if (waitMs > 0) await pause(waitMs);

  progress(`sweeping ${grants.length} users with up to ${sarConcurrency} SARs in flight`);
  const queue = [...grants];
  const sweepDeadline = wallNow() + sweepTimeoutMs;
  let sarCalls = 0;
  const sarRtts: number[] = [];
  let sarErrors = 0;
  const sweepStart = wallNow();
  // Elevate runs in this process: a stalled event loop delays its timers and DELETEs as much as our SARs.
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  await Promise.all(
    Array.from({ length: sarConcurrency }, async () => {
      for (let g = queue.shift(); g !== undefined && wallNow() < sweepDeadline; g = queue.shift()) {
        checkStopping();
        // Once a user is seen allowed in the sweep (which catches any grant removed early), polling it again
        // before its expiry only adds load to the API server and to Elevate, which shares this process.
        const untilExpiry = g.expiresAt - wallNow();
        if (g.swept && untilExpiry > 0) {
          queue.push(g);
          await pause(Math.min(10, untilExpiry));
          continue;
        }
        g.swept = true;
        const sentAt = wallNow();
        try {
          const allowed = await sar.allowed(g.user, namespace);
          sarCalls++;
          sarRtts.push(wallNow() - sentAt);
          if (allowed) {
            g.lastAllowedSentAt = sentAt;
            queue.push(g);
          } else g.deniedAt = wallNow();
        } catch {
          sarErrors++;
          queue.push(g);
          await pause(50);
        }
      }
    }),
  );
  const sweepMs = wallNow() - sweepStart;
  loopDelay.disable();

  const denied = grants.flatMap((g) => (g.deniedAt === undefined ? [] : [{ ...g, deniedAt: g.deniedAt }]));
  const latencies = denied.map((g) => g.deniedAt - g.expiresAt);
  const lowerBounds = denied.flatMap((g) =>
    g.lastAllowedSentAt === undefined ? [] : [g.lastAllowedSentAt - g.expiresAt],
  );
  const early = denied.filter((g) => g.lastAllowedSentAt === undefined || g.deniedAt < g.expiresAt).length;
  const expiries = grants.map((g) => g.expiresAt);
  const firstExpiry = Math.min(...expiries);
  const lastExpiry = Math.max(...expiries);

  // The server marks a grant Expired after deleting its binding; give it a moment to record that.
  const phases = new Map<string, number>();
  const stillActive = new Set(grants.map((g) => g.id));
  const expiredDeadline = wallNow() + expiredWaitMs;
  while (stillActive.size > 0 && wallNow() < expiredDeadline) {
    checkStopping();
    await pool([...stillActive], createConcurrency, async (id) => {
      const r = await callApi(url, adminUser, 'GET', `/accessrequests/${id}`);
      if (r.status === 200 && 'status' in r.body && r.body.status.phase === 'Expired') stillActive.delete(id);
    });
    if (stillActive.size > 0) await pause(200);
  }
  await pool(grants, createConcurrency, async (g) => {
    const r = await callApi(url, adminUser, 'GET', `/accessrequests/${g.id}`);
    const phase = r.status === 200 && 'status' in r.body ? r.body.status.phase : `HTTP ${r.status}`;
    phases.set(phase, (phases.get(phase) ?? 0) + 1);
  });

  const removedAt = await grantExpiredTimes(url);
  const serverMs = grants.flatMap((g) => {
    const t = removedAt.get(g.id);
    return t === undefined ? [] : [t - g.expiresAt];
  });

  report('2. Revocation latency (grant expiresAt -> SubjectAccessReview denied)');
  report(`  target expiry ${new Date(target).toISOString()}`);
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
  report(`  sweep polls each user once at the start, then again only from its expiresAt on`);
  report(
    `  sweep: ${sarCalls} SARs in ${sweepMs.toFixed(0)} ms (${((sarCalls / sweepMs) * 1000).toFixed(0)} SAR/s)` +
      `${sarErrors > 0 ? `, ${sarErrors} SAR errors` : ''}`,
  );
  report(summaryLine('SAR round-trip during the sweep', sarRtts));
  report(
    `  event-loop delay during the sweep (Elevate shares it): p50 ${formatMs(loopDelay.percentile(50) / 1e6)}, ` +
      `p99 ${formatMs(loopDelay.percentile(99) / 1e6)}, max ${formatMs(loopDelay.max / 1e6)}`,
  );
  report(summaryLine('expiresAt -> SAR denied (upper bound)', latencies));
  report(summaryLine('expiresAt -> last SAR allowed (lower)', lowerBounds));
  report(summaryLine('expiresAt -> GrantExpired (server audit)', serverMs));
  report(
    summaryLine(
      'GrantExpired -> SAR denied',
      denied.flatMap((g) => {
        const t = removedAt.get(g.id);
        return t === undefined ? [] : [g.deniedAt - t];
      }),
    ),
  );
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

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-bench-'));
  const kubeDir = join(dir, 'testenv');
  const elevateDir = join(dir, 'elevate');
  mkdirSync(elevateDir);
  let elevate: BenchElevate | undefined;
  let sar: SarClient | undefined;
  let starting: Promise<unknown> | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      sar?.close();
      // Main stops before starting Elevate if we are stopping, so once this settles `elevate` is final.
      await starting?.catch(() => undefined);
      // Elevate waits for open HTTP connections on stop; the clusters must go down even if it never does.
      const stopTimeout = sleep(stopTimeoutMs, undefined, { ref: false }).then(() => {
        throw new Error(`did not stop within ${stopTimeoutMs} ms`);
      });
      await Promise.race([elevate?.stop(), stopTimeout]).catch((e: Error) =>
        progress(`elevate stop failed: ${e.message}`),
      );
      await testenvDown({ dir: kubeDir }).catch((e: Error) => progress(`testenv down failed: ${e.message}`));
    })();
    return cleaning;
  };
  const bail = (why: string, code: number, keepLogs: boolean) => {
    progress(why);
    stopping.abort(new Error(why));
    void cleanup().finally(() => {
      if (keepLogs) progress(`testenv logs kept in ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
      process.exit(code);
    });
  };
  process.once('SIGINT', () => bail('interrupted; cleaning up', 130, false));
  process.once('SIGTERM', () => bail('terminated; cleaning up', 143, false));
  const watchdog = setTimeout(
    () => bail(`gave up after ${overallTimeoutMs / 1000} s; cleaning up`, 1, true),
    overallTimeoutMs,
  );

  let ok = false;
  try {
    progress(`starting testenv in ${dir}`);
    const up = testenvUp({ dir: kubeDir, clusters: 1, log: (l) => progress(`testenv: ${l}`) });
    starting = up;
    const [cluster] = await up;
    checkStopping();
    if (!cluster) throw new Error('testenv started no cluster');
    const users = Array.from({ length: warmupGrants + grantCount + revokeCount }, (_, i) => userName(i));
    elevate = await startBenchElevate({ dir: elevateDir, clusters: { dev: cluster.kubeconfigPath }, users });
    sar = await createSarClient(cluster.kubeconfigPath, sarConcurrency + 8);

    report(`Elevate latency bench — ${new Date().toISOString()}`);
    report(
      `  node ${process.version}, ${cpus().length} CPUs, 1 local cluster (etcd + kube-apiserver), SQLite store`,
    );
    report();
    const postMs = await benchGrants(elevate.url, sar, cluster.kubeconfigPath);
    await benchRevocation(elevate.url, sar, cluster.kubeconfigPath, postMs);
    ok = true;
  } finally {
    clearTimeout(watchdog);
    await cleanup();
    // Keep the logs of a failed run for the post-mortem.
    if (ok) rmSync(dir, { recursive: true, force: true });
    else progress(`testenv logs kept in ${dir}`);
  }
}

runBench(main);
