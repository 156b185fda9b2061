/**
 * Activity capture: how many API-server audit events per second Elevate takes through
 * POST /api/v1/activity/kube-audit/{cluster}, and how long the API server waits for each batch's answer.
 * Issue goal: >= 40,000 events/s on one core with 1 % attributed.
 *
 *   BENCH_SERVER=process npx tsx bench/activity-ingest.ts [batches]
 *
 * Starts its own one-cluster testenv and Elevate (as `bin/elevate server` with BENCH_SERVER=process: its own
 * event loop, i.e. one core), makes 50 real grants (auto-approved `view`), then sends EventLists shaped as
 * the API server's audit webhook sends them (Metadata level, 400 events per batch, its default maximum): 4
 * events of each batch by grant holders in their namespace (attributed and stored, with a GrantActivity
 * audit event per grant and batch), 396 by controllers and other users (dropped). Every auditID is new, so
 * nothing is deduplicated away. Batches are sent back to back, one in flight (as the API server's batch
 * backend sends them), then 4 in flight.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchApi, createNamespace, isActive } from './bench-api.js';
import { progress, report } from './bench-io.js';
import { runClusterBench } from './cluster-bench.js';
import { summaryLine } from './percentile.js';

const grantees = Array.from({ length: 50 }, (_, i) => `bench-act-${String(i).padStart(2, '0')}`);
const batches = Number(process.argv[2] ?? 200);
const eventsPerBatch = 400;
const attributedPerBatch = 4;
const token = 'bench-audit-webhook-token';
const tokenFile = join(process.env.TMPDIR ?? '/tmp', `elevate-bench-activity-${process.pid}.token`);
writeFileSync(tokenFile, token);

let auditSeq = 0;
function event(user: string, namespace: string, verb: string, resource: string, at: string, reason: string) {
  auditSeq += 1;
  return {
    level: 'Metadata',
    auditID: `00000000-0000-4000-8000-${String(auditSeq).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/${namespace}/${resource}`,
    verb,
    user: { username: user, uid: `uid-${user}`, groups: ['devs', 'system:authenticated'] },
    sourceIPs: ['10.0.0.7'],
    userAgent: 'kubectl/v1.36.3 (linux/amd64) kubernetes/b823dd1',
    objectRef: { resource, namespace, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: at,
    stageTimestamp: at,
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': reason },
  };
}

/** One EventList as the API server's batch backend sends it: mostly others, a few grant holders. */
function batchBody(namespace: string): string {
  const at = new Date().toISOString();
  const items = [];
  for (let i = 0; i < eventsPerBatch; i++) {
    if (i % (eventsPerBatch / attributedPerBatch) === 0) {
      const who = grantees[(auditSeq + i) % grantees.length] as string;
      items.push(
        event(who, namespace, 'list', 'pods', at, 'RBAC: allowed by RoleBinding "x" of ClusterRole "view"'),
      );
    } else {
      const sa = `system:serviceaccount:kube-system:controller-${i % 17}`;
      items.push(
        event(sa, `ns-${i % 23}`, 'update', 'leases', at, 'RBAC: allowed by ClusterRoleBinding "system:x"'),
      );
    }
  }
  return JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items });
}

runClusterBench(
  { users: grantees, sarSockets: 1, overallTimeoutMs: 10 * 60_000, activityTokenFile: tokenFile },
  async ({ cluster, elevate, stopping }) => {
    const api = benchApi(elevate.url, stopping);
    const namespace = 'bench-activity';
    await createNamespace(cluster.kubeconfigPath, namespace);
    progress(`granting view in ${namespace} to ${grantees.length} users`);
    for (const user of grantees) {
      const r = await api.requestAccess(user, namespace, 3_600_000);
      if (!isActive(r)) throw new Error(`grant for ${user} not active: ${JSON.stringify(r.body)}`);
    }
    progress(`building ${batches * 2} batches of ${eventsPerBatch} events`);
    const bodies = Array.from({ length: batches * 2 }, () => batchBody(namespace));
    const url = `${elevate.url}/api/v1/activity/kube-audit/dev`;
    const send = async (body: string): Promise<number> => {
      const started = performance.now();
      const res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
        signal: stopping,
      });
      const answer = (await res.json()) as { attributed?: number };
      if (res.status !== 200 || answer.attributed !== attributedPerBatch) {
        throw new Error(`batch answered ${res.status}: ${JSON.stringify(answer)}`);
      }
      return performance.now() - started;
    };

    report('Activity capture ingest (POST /api/v1/activity/kube-audit/{cluster})');
    report(
      `  ${elevate.where === 'process' ? 'Elevate process' : 'Elevate in-process'}, SQLite store, ${grantees.length} active grants`,
    );
    report(
      `  batches of ${eventsPerBatch} events (${attributedPerBatch} attributed: 1 %), ~${Math.round((bodies[0]?.length ?? 0) / 1024)} KiB each`,
    );
    for (const inFlight of [1, 4]) {
      const mine = bodies.splice(0, batches);
      const times: number[] = [];
      const started = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < mine.length) times.push(await send(mine[next++] as string));
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      report(
        `  ${inFlight} in flight: ${batches} batches, ${batches * eventsPerBatch} events in ${seconds.toFixed(2)} s`,
      );
      report(
        `    throughput ${Math.round((batches * eventsPerBatch) / seconds).toLocaleString('en')} events/s`,
      );
      report(`    ${summaryLine('answer time per batch', times)}`);
    }
  },
);
