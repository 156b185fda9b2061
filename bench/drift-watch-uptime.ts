/**
 * How much of the time Elevate's drift watch is actually established on a quiet cluster: one cluster where
 * nothing changes, the cluster gateway's watchManagedBindings running for WATCH_UPTIME_SECONDS (default
 * 180), and every watch request client-node's Watch makes timed from its response (established) to its
 * end. Prints, per watched collection, the fraction of the time a watch was established, how often it
 * ended (normally or with an error) and the longest time without one.
 *
 * Starts its own one-cluster testenv in a temp directory and always tears it down. `npx tsx
 * bench/drift-watch-uptime.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { createKubeClusterGateway } from '../src/adapters/kube/kube-cluster-gateway.js';
import { testenvDown, testenvUp } from '../src/testenv/testenv.js';
import { progress, runBench } from './bench-io.js';

const seconds = Number(process.env.WATCH_UPTIME_SECONDS ?? 180);

interface WatchStats {
  upMs: number;
  upSince: number | null;
  downSince: number | null;
  longestDownMs: number;
  normalEnds: number;
  errorEnds: number;
}
const stats = new Map<string, WatchStats>();

/** Times every watch request from its response to its end, without changing what it does. */
function instrumentWatches(startedAt: number): void {
  const original = k8s.Watch.prototype.watch;
  k8s.Watch.prototype.watch = async function (path, query, callback, done) {
    const s = stats.get(path) ?? {
      upMs: 0,
      upSince: null,
      downSince: startedAt,
      longestDownMs: 0,
      normalEnds: 0,
      errorEnds: 0,
    };
    stats.set(path, s);
    let ended = false;
    const controller = await original.call(this, path, query, callback, (err) => {
      if (!ended) {
        ended = true;
        const now = performance.now();
        if (s.upSince !== null) s.upMs += now - s.upSince;
        s.upSince = null;
        s.downSince = now;
        if (err) s.errorEnds++;
        else s.normalEnds++;
      }
      done(err);
    });
    if (!ended) {
      const now = performance.now();
      if (s.downSince !== null) s.longestDownMs = Math.max(s.longestDownMs, now - s.downSince);
      s.downSince = null;
      s.upSince = now;
    }
    return controller;
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-watch-uptime-'));
  const kubeDir = join(dir, 'testenv');
  let stop: (() => void) | undefined;
  const cleanup = async () => {
    stop?.();
    await testenvDown({ dir: kubeDir }).catch((e: Error) => progress(`testenv down failed: ${e.message}`));
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  try {
    progress(`starting testenv in ${dir}`);
    const [cluster] = await testenvUp({ dir: kubeDir, clusters: 1, log: (l) => progress(`testenv: ${l}`) });
    if (!cluster) throw new Error('testenv started no cluster');
    const gateway = createKubeClusterGateway([
      { name: 'dev', kubeconfigPath: cluster.elevateKubeconfigPath },
    ]);
    progress(`watching a quiet cluster for ${seconds} s`);
    const startedAt = performance.now();
    instrumentWatches(startedAt);
    let errors = 0;
    stop = gateway.watchManagedBindings(
      'dev',
      () => {},
      () => errors++,
    ).stop;
    await sleep(seconds * 1000);
    const endedAt = performance.now();
    const total = endedAt - startedAt;
    console.log(`Drift watch uptime on a quiet cluster — ${new Date().toISOString()}, ${seconds} s`);
    for (const [path, s] of stats) {
      const up = s.upMs + (s.upSince !== null ? endedAt - s.upSince : 0);
      const longestDown = Math.max(s.longestDownMs, s.downSince !== null ? endedAt - s.downSince : 0);
      console.log(
        `  ${path}: established ${((100 * up) / total).toFixed(2)}% of the time; ` +
          `${s.normalEnds} normal ends, ${s.errorEnds} error ends; longest without a watch ${longestDown.toFixed(0)} ms`,
      );
    }
    console.log(`  errors reported to Elevate: ${errors}`);
  } finally {
    await cleanup();
  }
}

runBench(main);
