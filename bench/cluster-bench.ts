import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type TestCluster, testenvDown, testenvUp } from '../src/testenv/testenv.js';
import { type BenchElevate, startBenchElevate } from './bench-elevate.js';
import { progress, runBench } from './bench-io.js';
import { createSarClient, type SarClient } from './sar-client.js';

export interface ClusterBench {
  cluster: TestCluster;
  elevate: BenchElevate;
  sar: SarClient;
  /** Aborted on Ctrl-C, SIGTERM or the watchdog, so every loop and wait stops at once. */
  stopping: AbortSignal;
  /** A sleep that ends (throwing) when the bench is stopping. */
  pause(ms: number): Promise<void>;
}

export interface ClusterBenchOptions {
  /** Every requester the bench will use (each grant needs its own user). */
  users: string[];
  /** Connections the SAR client may open. */
  sarSockets: number;
  /** Whatever happens, the bench stops (and cleans up) after this long. */
  overallTimeoutMs: number;
  /** Elevate's drift-pass interval (default 10s, as deployed). */
  reconcileInterval?: string;
  /** Lets the cluster send audit events with the token in this file (clusters[].activity). */
  activityTokenFile?: string;
}

const stopTimeoutMs = 10_000;

/**
 * Runs `body` against its own one-cluster testenv (in a temp directory) and one Elevate server (in this
 * process or as a child, see BENCH_SERVER), and always tears both down: at the end, on error, on Ctrl-C
 * and after the watchdog. A failed run keeps the testenv's logs for the post-mortem.
 */
export function runClusterBench(
  opts: ClusterBenchOptions,
  body: (bench: ClusterBench) => Promise<void>,
): void {
  const stopping = new AbortController();
  const pause = (ms: number) => sleep(ms, undefined, { signal: stopping.signal });

  runBench(async () => {
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
        await testenvDown({ dir: kubeDir }).catch((e: Error) =>
          progress(`testenv down failed: ${e.message}`),
        );
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
      () => bail(`gave up after ${opts.overallTimeoutMs / 1000} s; cleaning up`, 1, true),
      opts.overallTimeoutMs,
    );

    let ok = false;
    try {
      progress(`starting testenv in ${dir}`);
      const up = testenvUp({ dir: kubeDir, clusters: 1, log: (l) => progress(`testenv: ${l}`) });
      starting = up;
      const [cluster] = await up;
      stopping.signal.throwIfAborted();
      if (!cluster) throw new Error('testenv started no cluster');
      const start = startBenchElevate({
        dir: elevateDir,
        clusters: { dev: cluster.kubeconfigPath },
        users: opts.users,
        ...(opts.reconcileInterval ? { reconcileInterval: opts.reconcileInterval } : {}),
        ...(opts.activityTokenFile ? { activityTokenFile: opts.activityTokenFile } : {}),
      });
      starting = start;
      elevate = await start;
      sar = await createSarClient(cluster.kubeconfigPath, opts.sarSockets);
      await body({ cluster, elevate, sar, stopping: stopping.signal, pause });
      ok = true;
    } finally {
      clearTimeout(watchdog);
      await cleanup();
      if (ok) rmSync(dir, { recursive: true, force: true });
      else progress(`testenv logs kept in ${dir}`);
    }
  });
}
