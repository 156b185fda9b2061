/**
 * A credential grant's end, one at a time: how long after its expiresAt the API server (1) no longer
 * authorizes its ServiceAccount (the bindings are deleted first), and (2) no longer authenticates the token
 * it issued (the ServiceAccount is deleted next; the API server caches successful token authentications
 * for ~10 s). Run: npx tsx bench/credential-expiry.ts [runs]   (BENCH_SERVER=process as in expiry.ts)
 */
import https from 'node:https';
import { loadavg } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { benchApi, createNamespace, describeFailure, isActive, wallNow } from './bench-api.js';
import { progress, report } from './bench-io.js';
import { runClusterBench } from './cluster-bench.js';
import { summaryLine } from './percentile.js';

const runs = Number(process.argv[2] ?? 20);
const grantMs = 2_000;
const pollLeadMs = 20;
const namespace = 'bench-credential';
const userName = (i: number) => `credential-user-${String(i).padStart(3, '0')}`;

/** Calls the API server with the issued token: 401 once it no longer authenticates. */
async function tokenStatus(server: string, ca: Buffer | undefined, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL('/api', server),
      { headers: { authorization: `Bearer ${token}` }, ...(ca ? { ca } : {}), timeout: 10_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const users = Array.from({ length: runs + 1 }, (_, i) => userName(i));
runClusterBench({ users, sarSockets: 2, overallTimeoutMs: 10 * 60_000 }, async (bench) => {
  const { sar, pause, stopping, cluster, elevate } = bench;
  const api = benchApi(elevate.url, stopping);
  await createNamespace(cluster.kubeconfigPath, namespace);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const server = kc.getCurrentCluster()?.server ?? '';
  const caData = kc.getCurrentCluster()?.caData;
  const ca = caData ? Buffer.from(caData, 'base64') : undefined;
  const denied: number[] = [];
  const unauthenticated: number[] = [];
  let early = 0;

  for (const [i, user] of users.entries()) {
    const r = await api.requestAccess(user, namespace, grantMs);
    if (!isActive(r)) throw new Error(`grant for ${user}: ${describeFailure(r)}`);
    const id = r.body.metadata.name;
    const expiresAt = Date.parse(r.body.status.grant?.expiresAt ?? '');
    const issued = await api.call(user, 'POST', `/accessrequests/${id}/credentials`, {});
    const token = (issued.body as { token?: string }).token;
    if (issued.status !== 200 || !token) throw new Error(`credentials for ${id}: HTTP ${issued.status}`);
    const account = `system:serviceaccount:elevate-grants:elevate-${id}`;
    while (!(await sar.allowed(account, namespace))) await pause(10);
    if ((await tokenStatus(server, ca, token)) !== 200) throw new Error(`${id}: token refused while active`);
    await pause(Math.max(0, expiresAt - pollLeadMs - wallNow()));
    for (;;) {
      stopping.throwIfAborted();
      if (!(await sar.allowed(account, namespace))) break;
    }
    const deniedAt = wallNow();
    if (deniedAt < expiresAt) early++;
    for (;;) {
      if ((await tokenStatus(server, ca, token)) === 401) break;
      await pause(50);
    }
    const goneAt = wallNow();
    // The first run warms up connections and caches.
    if (i === 0) continue;
    denied.push(deniedAt - expiresAt);
    unauthenticated.push(goneAt - expiresAt);
    progress(
      `run ${i}/${runs}: denied +${(deniedAt - expiresAt).toFixed(1)} ms, 401 +${(goneAt - expiresAt).toFixed(0)} ms`,
    );
  }
  report(`# Credential grant expiry (${runs} runs, ${elevate.where}, load ${loadavg()[0]?.toFixed(1)})`);
  report(summaryLine('expiresAt -> SAR denied for its ServiceAccount', denied));
  report(summaryLine('expiresAt -> its token answered 401', unauthenticated));
  report(`denied before expiresAt (must be 0): ${early}`);
});
