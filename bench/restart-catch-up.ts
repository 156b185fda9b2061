/**
 * Restart catch-up: how soon after a crashed server is started again the grants that expired while it
 * was down are gone, printed as numbers. Run: npx tsx bench/restart-catch-up.ts [rounds]
 *
 * Each round: start `bin/elevate server`, grant `grantsPerRound` users `view` for a few seconds, kill -9
 * the server, let every grant expire while it is down, start it again, and time from the spawn until
 * (a) /readyz answers 200 and (b) a SubjectAccessReview says denied for every user. Starts its own
 * one-cluster testenv in a temp directory and always tears it down.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { freePort } from '../src/testenv/free-port.js';
import { testenvDown, testenvUp } from '../src/testenv/testenv.js';
import { elevateBin, progress, repo, report, runBench } from './bench-io.js';
import { summaryLine } from './percentile.js';
import { createSarClient, type SarClient } from './sar-client.js';

const rounds = Number(process.argv[2] ?? 7);
const grantsPerRound = 10;
/** Long enough that every grant is seen allowed (under load) before the kill. */
const grantSeconds = 8;
/** How long past the last expiry the server stays down, so every grant is overdue at the restart. */
const downPastExpiryMs = 1000;
const pollMs = 5;
const waitLimitMs = 30_000;
/** Whatever happens, the bench stops (and cleans up) after this long. */
const overallTimeoutMs = 10 * 60_000;

const userName = (i: number) => `restart-user-${String(i).padStart(2, '0')}`;
const adminToken = 'token-restart-root';

function writeConfig(dir: string, kubeconfig: string, port: number): string {
  const users = Array.from({ length: grantsPerRound }, (_, i) => userName(i));
  const tokens = [
    ...users.map((u) => `token-${u},${u},uid-${u},"devs"`),
    `${adminToken},root,uid-root,"admins"`,
  ];
  writeFileSync(join(dir, 'tokens.csv'), `${tokens.join('\n')}\n`);
  const file = join(dir, 'elevate.yaml');
  // A long reconcile interval: it is the start-up catch-up that removes the bindings, not a drift pass.
  writeFileSync(
    file,
    `listen: 127.0.0.1:${port}
storage: sqlite:./elevate.db
logLevel: ${process.env.BENCH_LOG_LEVEL ?? 'warn'}
auth:
  tokenFile: ./tokens.csv
  admins: { groups: [admins] }
clusters:
  - name: dev
    kubeconfig: ${kubeconfig}
reconcile:
  interval: 10m
limits:
  minDuration: 1s
policies:
  - name: view-auto
    match: { groups: [devs], roles: [view] }
    decision: auto
    maxDuration: 1h
`,
  );
  return file;
}

/** Every server this bench started, killed on the way out whatever happens. */
const children = new Set<ChildProcess>();

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    sleep(ms, undefined, { ref: false }).then(() => Promise.reject(new Error('timed out'))),
  ]);
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + waitLimitMs;
  while (!(await withTimeout(check(), 5000).catch(() => false))) {
    if (performance.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(pollMs);
  }
}

interface Round {
  readyMs: number;
  goneMs: number;
}

async function oneRound(config: string, url: string, namespace: string, sar: SarClient): Promise<Round> {
  const start = () => {
    const child = spawn(elevateBin, ['server', '--config', config], {
      stdio: ['ignore', process.env.BENCH_LOG_LEVEL ? 'inherit' : 'ignore', 'inherit'],
    });
    children.add(child);
    child.once('exit', () => children.delete(child));
    return { child, spawnedAt: performance.now() };
  };
  const ready = async () => (await fetch(`${url}/readyz`)).status === 200;
  const kill9 = async (child: ChildProcess) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  };

  const first = start();
  let second: ReturnType<typeof start> | undefined;
  try {
    await until('the first server to be ready', ready);
    const users = Array.from({ length: grantsPerRound }, (_, i) => userName(i));
    let lastExpiry = 0;
    await Promise.all(
      users.map(async (user) => {
        const res = await fetch(`${url}/api/v1/accessrequests`, {
          method: 'POST',
          headers: { authorization: `Bearer token-${user}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            spec: { cluster: 'dev', role: 'view', namespace, duration: `${grantSeconds}s`, reason: 'bench' },
          }),
        });
        const body = (await res.json()) as { status?: { phase: string; grant?: { expiresAt: string } } };
        if (body.status?.phase !== 'Active') throw new Error(`grant for ${user}: ${JSON.stringify(body)}`);
        lastExpiry = Math.max(lastExpiry, Date.parse(body.status.grant?.expiresAt ?? ''));
      }),
    );
    progress('  granted; waiting until every user is allowed');
    await Promise.all(users.map((u) => until(`${u} to be allowed`, () => sar.allowed(u, namespace))));
    if (Date.now() > lastExpiry) throw new Error('grants expired before the kill: raise grantSeconds');
    await kill9(first.child);
    progress('  killed; waiting past the last expiry');
    await sleep(Math.max(0, lastExpiry + downPastExpiryMs - Date.now()));
    const stillAllowed = (await Promise.all(users.map((u) => sar.allowed(u, namespace)))).filter(Boolean);
    if (stillAllowed.length !== users.length)
      throw new Error(
        `only ${stillAllowed.length} of ${users.length} still allowed while the server was down`,
      );

    progress('  restarting');
    second = start();
    const { spawnedAt } = second;
    let readyMs = Number.NaN;
    const readyWatch = until('the restarted server to be ready', ready).then(() => {
      readyMs = performance.now() - spawnedAt;
    });
    const pending = new Set(users);
    await until('every grant to be gone', async () => {
      const answers = await Promise.all(
        [...pending].map(async (u) => [u, await sar.allowed(u, namespace)] as const),
      );
      for (const [u, allowed] of answers) if (!allowed) pending.delete(u);
      return pending.size === 0;
    });
    const goneMs = performance.now() - spawnedAt;
    await readyWatch;
    return { readyMs, goneMs };
  } finally {
    await kill9(first.child).catch(() => undefined);
    if (second) await kill9(second.child).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  if (!existsSync(join(repo, 'dist/cli/main.js')))
    throw new Error('run `make build` first (bin/elevate runs dist/)');
  const dir = mkdtempSync(join(tmpdir(), 'elevate-bench-restart-'));
  const kubeDir = join(dir, 'testenv');
  const elevateDir = join(dir, 'elevate');
  mkdirSync(elevateDir);
  let sar: SarClient | undefined;
  const cleanup = async () => {
    for (const c of children) c.kill('SIGKILL');
    sar?.close();
    await testenvDown({ dir: kubeDir }).catch((e: Error) => progress(`testenv down failed: ${e.message}`));
  };
  const bail = (why: string, code: number) => {
    progress(why);
    void cleanup().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => bail('interrupted; cleaning up', 130));
  process.once('SIGTERM', () => bail('terminated; cleaning up', 143));
  const watchdog = setTimeout(() => bail(`gave up after ${overallTimeoutMs / 1000} s`, 1), overallTimeoutMs);
  let ok = false;
  try {
    progress(`starting testenv in ${dir}`);
    const [cluster] = await testenvUp({ dir: kubeDir, clusters: 1, log: (l) => progress(`testenv: ${l}`) });
    if (!cluster) throw new Error('testenv started no cluster');
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const namespace = 'bench-restart';
    await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    sar = await createSarClient(cluster.kubeconfigPath, grantsPerRound + 4);
    const port = await freePort();
    const config = writeConfig(elevateDir, cluster.elevateKubeconfigPath, port);

    const results: Round[] = [];
    for (let i = 0; i < rounds; i++) {
      const r = await oneRound(config, `http://127.0.0.1:${port}`, namespace, sar);
      progress(
        `round ${i + 1}/${rounds}: ready ${r.readyMs.toFixed(0)} ms, all access gone ${r.goneMs.toFixed(0)} ms`,
      );
      results.push(r);
    }
    report(`Elevate restart catch-up bench — ${new Date().toISOString()}`);
    report(
      `  node ${process.version}, ${cpus().length} CPUs, 1 local cluster, SQLite store, bin/elevate server`,
    );
    report(
      `  ${rounds} rounds: ${grantsPerRound} grants of ${grantSeconds}s each, kill -9, all expire while down, restart`,
    );
    report();
    report(
      summaryLine(
        'spawn -> /readyz 200',
        results.map((r) => r.readyMs),
      ),
    );
    report(
      summaryLine(
        'spawn -> every SAR denied (access gone)',
        results.map((r) => r.goneMs),
      ),
    );
    ok = true;
  } finally {
    clearTimeout(watchdog);
    await cleanup();
    if (ok) rmSync(dir, { recursive: true, force: true });
    else progress(`testenv logs kept in ${dir}`);
  }
}

runBench(main);
