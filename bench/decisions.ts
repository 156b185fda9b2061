/**
 * Policy decisions per second and the time of one decision, with 1,000 policies: a realistic mix of group
 * and user globs, cluster and namespace globs, selectors, time windows and ticket patterns, where the policy
 * that matches sits near the end of the list, or none does. Pure CPU on one core: no server, no cluster.
 *
 *   npx tsx bench/decisions.ts [measured decisions]     # default 200000
 */
import { decide } from '../src/domain/policy/decide.js';
import type {
  DecisionFacts,
  DecisionInput,
  Policy,
  PolicySet,
  RoleRule,
} from '../src/domain/policy/types.js';
import { namespaceKey, type Target, targetKey } from '../src/domain/target.js';
import { summarize } from './percentile.js';

const MEASURED = Number(process.argv[2] ?? 200_000);
const WARMUP = 50_000;

// A fixed seed: every run judges the same policies and requests, so runs compare.
let seed = 42;
function rand(n: number): number {
  seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
  return seed % n;
}
const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)] as T;

const TEAMS = Array.from({ length: 60 }, (_, i) => `team${i}`);
const CLUSTERS = ['dev', 'dev2', 'staging-eu-1', 'staging-us-1', 'prod-eu-1', 'prod-us-1'];
const ZONES = ['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'UTC'];
const ROLES = ['view', 'edit', 'admin', 'debugger', 'db-reader'];

/** `devsEvery`: one policy in this many is for everyone in `devs` (the requesters' common group). */
function makePolicy(i: number, devsEvery: number): Policy {
  const team = pick(TEAMS);
  const kind = i % 10;
  const match: Policy['match'] = {};
  if (kind < 6) match.groups = [team, `${team}-leads`];
  else if (kind < 8) match.users = [`${team}-*`, 'bob'];
  else match.serviceAccounts = [`system:serviceaccount:${team}:*`];
  if (i % 3 === 0) match.clusters = [pick(['prod-*', 'staging-*', 'dev*'])];
  if (i % 4 === 0) match.clusterSelector = { matchLabels: { env: pick(['prod', 'staging', 'dev']) } };
  if (i % 2 === 0) match.namespaces = [`${team}-*`, `${team}`];
  else if (i % 5 === 1) match.namespaceSelector = { matchLabels: { team } };
  // Policies for everyone in `devs`, as every requester is: these are judged past who, in full.
  if (i % devsEvery === 5) {
    match.groups = ['devs'];
    match.namespaces = [`${team}-*`];
  }
  if (i % 7 === 0) match.roles = [pick(ROLES), 'view'];
  if (i % 11 === 0) match.roleKinds = ['ClusterRole'];
  if (i % 6 === 0) match.when = { timezone: pick(ZONES), days: ['Mon-Fri'], hours: '08:00-20:00' };
  if (i % 9 === 0) match.ticket = '^(INC|CHG)-\\d{4,}$';
  return {
    name: `p${i}`,
    priority: 0,
    source: `elevate.yaml policies[${i}]`,
    match,
    decision: i % 2 === 0 ? 'auto' : 'approval',
    approval: {
      approvers: { users: [], groups: [`${team}-leads`] },
      required: 1,
      timeoutMs: 3_600_000,
      denyEnds: true,
      requireComment: false,
    },
    maxDurationMs: 8 * 3_600_000,
    allowEscalatingRoles: [],
  };
}

function makeSet(devsEvery: number): PolicySet {
  seed = 42;
  const policies = Array.from({ length: 1_000 }, (_, i) => makePolicy(i, devsEvery));
  // The on-call policy that matches most requests, near the end: everything before it is walked and traced.
  policies[990] = {
    ...makePolicy(990, devsEvery),
    name: 'oncall-payments',
    match: {
      groups: ['oncall'],
      namespaces: ['payments', 'orders'],
      roles: ['view', 'edit'],
      ticket: '^INC-\\d+$',
    },
    allowEscalatingRoles: ['edit'],
    decision: 'auto',
  };
  return {
    policies,
    profiles: [],
    guardrails: {
      allowClusterAdmin: false,
      forbiddenRoles: ['system:*'],
      protectedNamespaces: ['kube-system'],
    },
    limits: {
      minDurationMs: 60_000,
      maxDurationMs: 7 * 86_400_000,
      maxActivePerUser: 20,
      maxScheduleAheadMs: 7 * 86_400_000,
    },
    clusterLabels: Object.fromEntries(CLUSTERS.map((c) => [c, { env: c.split('-')[0] as string }])),
    digest: `bench-${devsEvery}`,
  };
}

const viewRules: RoleRule[] = [
  { apiGroups: [''], resources: ['pods', 'services', 'configmaps'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['apps'], resources: ['deployments', 'replicasets'], verbs: ['get', 'list', 'watch'] },
];

function makeInput(i: number): { input: DecisionInput; facts: DecisionFacts } {
  const oncall = i % 4 !== 3; // a quarter of the requests match no policy at all
  const team = pick(TEAMS);
  const ns = oncall ? pick(['payments', 'orders']) : `${team}-api`;
  const targets: Target[] = [
    { cluster: pick(CLUSTERS), namespace: ns, role: pick(['view', 'edit']), roleKind: 'ClusterRole' },
  ];
  if (i % 5 === 0) targets.push({ ...(targets[0] as Target), cluster: pick(CLUSTERS) });
  const input: DecisionInput = {
    requester: `user${i % 500}`,
    groups: oncall ? ['devs', 'oncall'] : ['devs', 'contractors'],
    targets,
    profile: null,
    durationMs: 3_600_000,
    ticket: i % 3 === 0 ? null : `INC-${1000 + i}`,
  };
  const namespaceLabels = new Map(
    targets.map((t) => [namespaceKey(t.cluster, t.namespace as string), { team }]),
  );
  const roleRules = new Map(targets.map((t) => [targetKey(t), viewRules]));
  const usage = Array.from({ length: 10 }, (_, k) => ({
    requestId: `r${k}`,
    requester: `user${(i + k) % 500}`,
    policy: 'oncall-payments',
    targets,
    live: k % 2 === 0,
    endsAt: new Date(Date.UTC(2026, 4, 6, 12)),
    endedAt: k % 2 === 0 ? null : new Date(Date.UTC(2026, 4, 6, 8)),
  }));
  // Requests arrive over a working week, a few seconds apart.
  const now = new Date(Date.UTC(2026, 4, 4, 6) + i * 7_000);
  return { input, facts: { now, namespaceLabels, roleRules, usage } };
}

const stream: { input: DecisionInput; facts: DecisionFacts }[] = [];

/** Throughput: decisions back to back, the clock read only at both ends. */
function throughput(set: PolicySet, n: number): { wallS: number; cpuS: number; sink: number } {
  let sink = 0;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const { input, facts } = stream[i % stream.length] as (typeof stream)[number];
    sink += decide(set, input, facts).trace.length;
  }
  const wallS = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  return { wallS, cpuS: (cpu.user + cpu.system) / 1e6, sink };
}

/** Latency: each decision timed on its own (the two clock reads add well under a microsecond). */
function latencies(set: PolicySet, n: number): Float64Array {
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const { input, facts } = stream[i % stream.length] as (typeof stream)[number];
    const t0 = process.hrtime.bigint();
    decide(set, input, facts);
    times[i] = Number(process.hrtime.bigint() - t0) / 1_000;
  }
  return times;
}

/** What the stream asks, judged once outside any timing. */
function describeStream(set: PolicySet): { outcomes: string; traced: number; judged: number } {
  const outcomes = new Map<string, number>();
  let traced = 0;
  let judged = 0;
  for (const { input, facts } of stream) {
    const d = decide(set, input, facts);
    const key = d.outcome === 'refused' ? `refused (${d.refusal?.kind})` : d.outcome;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    traced += d.trace.length;
    judged += d.trace.filter(
      (e) => e.matcher === undefined || !/^(users|groups|serviceAccounts)/.test(e.matcher),
    ).length;
  }
  const share = (v: number) => `${((100 * v) / stream.length).toFixed(0)}%`;
  return {
    outcomes: [...outcomes].map(([k, v]) => `${k} ${share(v)}`).join(', '),
    traced: traced / stream.length,
    judged: judged / stream.length,
  };
}

function measure(label: string, set: PolicySet): void {
  throughput(set, WARMUP);
  latencies(set, WARMUP / 5);
  const t = throughput(set, MEASURED);
  const s = summarize(Array.from(latencies(set, MEASURED)));
  const perSecond = MEASURED / t.wallS;
  const mix = describeStream(set);
  const us = (v: number) => `${v.toFixed(1)} µs`.padStart(10);
  const n = (v: number) => Math.round(v).toLocaleString('en-US');
  console.log(`${label}`);
  console.log(`  throughput        ${n(perSecond)} decisions/s`);
  console.log(
    `  CPU               ${n(MEASURED / t.cpuS)} decisions per CPU-second (${t.cpuS.toFixed(2)} s CPU in ${t.wallS.toFixed(2)} s; wall > CPU: the machine is shared)`,
  );
  console.log(`  decision time     p50 ${us(s.p50)}  p99 ${us(s.p99)}  max ${us(s.max)}  mean ${us(s.mean)}`);
  console.log(
    `  trace             ${mix.traced.toFixed(0)} entries per decision, ${mix.judged.toFixed(0)} of them policies judged past who`,
  );
  console.log(`  outcomes          ${mix.outcomes}`);
  console.log(
    `  goal              >= 50,000/s and p99 <= 100 µs: ${perSecond >= 50_000 && s.p99 <= 100 ? 'met' : 'NOT met'}`,
  );
}

const narrow = makeSet(50);
const broad = makeSet(10);
seed = 7;
stream.push(...Array.from({ length: 2_000 }, (_, i) => makeInput(i)));
console.log(
  `decisions: 1,000 policies, ${MEASURED.toLocaleString('en-US')} decisions measured after warm-up, one core`,
);
measure('requesters in groups 2% of the policies name', narrow);
measure('requesters in groups 10% of the policies name', broad);
