/**
 * The authorization webhook's decision, server-side: how long `authorize` takes for one SubjectAccessReview
 * and how many it answers per second on one core, with 2,000 Active webhook grants of 500 users on 10
 * clusters (view-, edit- and admin-like roles). Half the reviews are for users holding grants (allowed or
 * not by their rules), half for users holding none (the common case: every request RBAC denies).
 * No HTTP, no server: the in-memory index and RBAC's rule evaluation alone.
 *
 *   npx tsx bench/webhook-decisions.ts [measured reviews]     # default 500000
 */
import type { AccessRequest } from '../src/domain/access-request.js';
import type { RoleRule } from '../src/domain/policy/types.js';
import type { RequestAttributes } from '../src/domain/rbac/rule-evaluation.js';
import { createWebhookAuthorizer } from '../src/services/webhook-authorizer.js';
import { summarize } from './percentile.js';

const MEASURED = Number(process.argv[2] ?? 500_000);
const WARMUP = 100_000;
let seed = 7;
const rand = (n: number) => {
  seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
  return seed % n;
};
const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)] as T;

const core = ['pods', 'pods/log', 'services', 'configmaps', 'endpoints', 'persistentvolumeclaims', 'events'];
const roles: Record<string, RoleRule[]> = {
  view: [
    { apiGroups: [''], resources: core, verbs: ['get', 'list', 'watch'] },
    {
      apiGroups: ['apps'],
      resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'],
      verbs: ['get', 'list', 'watch'],
    },
    { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['get', 'list', 'watch'] },
    {
      apiGroups: ['networking.k8s.io'],
      resources: ['ingresses', 'networkpolicies'],
      verbs: ['get', 'list', 'watch'],
    },
  ],
  edit: [
    { apiGroups: [''], resources: [...core, 'pods/exec', 'pods/portforward', 'secrets'], verbs: ['*'] },
    { apiGroups: ['apps'], resources: ['*'], verbs: ['*'] },
    {
      apiGroups: ['batch'],
      resources: ['jobs', 'cronjobs'],
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    },
  ],
  admin: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
};
const clusters = Array.from({ length: 10 }, (_, i) => `c${i}`);
const namespaces = Array.from({ length: 40 }, (_, i) => `ns${i}`);
const users = Array.from({ length: 500 }, (_, i) => `user${i}`);
const far = new Date(Date.now() + 3_600_000);

const grants: AccessRequest[] = Array.from({ length: 2_000 }, (_, i) => {
  const cluster = pick(clusters);
  const role = pick(['view', 'view', 'view', 'edit', 'admin']);
  return {
    id: `ar-${i}`,
    phase: 'Active',
    spec: {
      requester: pick(users),
      targets: [{ cluster, namespace: pick(namespaces), role, roleKind: 'ClusterRole' }],
      mechanism: 'webhook',
    },
    grant: { bindings: [], activatedAt: new Date(), expiresAt: far },
    revocation: null,
  } as unknown as AccessRequest;
});

const authorizer = createWebhookAuthorizer({
  store: { listRequests: async () => grants },
  clusters: { roleRules: async (_c, _k, role) => roles[role] ?? null },
  clock: { now: () => new Date() },
  onError: (e) => {
    throw e;
  },
});
await authorizer.refresh();

const verbs = ['get', 'list', 'watch', 'create', 'delete', 'patch'];
const resources: [string, string, string][] = [
  ['', 'pods', ''],
  ['', 'pods', 'exec'],
  ['', 'pods', 'log'],
  ['', 'secrets', ''],
  ['apps', 'deployments', ''],
  ['apps', 'deployments', 'scale'],
  ['batch', 'jobs', ''],
];
function review(): [string, string, RequestAttributes] {
  const [group, resource, subresource] = pick(resources);
  const user = rand(2) === 0 ? pick(users) : `stranger${rand(10_000)}`;
  return [
    pick(clusters),
    user,
    {
      kind: 'resource',
      verb: pick(verbs),
      group,
      resource,
      subresource,
      name: '',
      namespace: pick(namespaces),
    },
  ];
}
const reviews = Array.from({ length: 10_000 }, review);

let allowed = 0;
for (let i = 0; i < WARMUP; i++) {
  const [c, u, a] = reviews[i % reviews.length] as [string, string, RequestAttributes];
  if (authorizer.authorize(c, u, a).allowed) allowed++;
}
// Timed one by one (for the percentiles), then in one loop (for throughput without the timer's cost).
const times: number[] = new Array(MEASURED);
for (let i = 0; i < MEASURED; i++) {
  const [c, u, a] = reviews[i % reviews.length] as [string, string, RequestAttributes];
  const t0 = process.hrtime.bigint();
  authorizer.authorize(c, u, a);
  times[i] = Number(process.hrtime.bigint() - t0) / 1e6;
}
allowed = 0;
const t0 = process.hrtime.bigint();
for (let i = 0; i < MEASURED; i++) {
  const [c, u, a] = reviews[i % reviews.length] as [string, string, RequestAttributes];
  if (authorizer.authorize(c, u, a).allowed) allowed++;
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const s = summarize(times);
const us = (ms: number) => `${(ms * 1000).toFixed(2)} µs`;
console.log(
  `# Webhook decisions: ${grants.length} grants, ${users.length} users, ${clusters.length} clusters`,
);
console.log(`  one decision  p50 ${us(s.p50)}  p99 ${us(s.p99)}  max ${us(s.max)}  n=${s.count}`);
console.log(`  throughput    ${Math.round(MEASURED / seconds).toLocaleString('en')} decisions/s on one core`);
console.log(`  allowed       ${((allowed / MEASURED) * 100).toFixed(1)}% of reviews`);
