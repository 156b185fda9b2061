import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { elevateCli } from '../support/cli.js';
import { auditEvents, requestBody } from '../support/elevate.js';
import {
  type AccessQuestion,
  canI,
  createNamespace,
  elevateKubeconfig,
  testKubeconfig,
  uniqueName,
} from '../support/kube.js';
import { applyHomeManifests, kubectlWith } from '../support/kubectl.js';
import { eventually, type PolicyServer, startPolicyElevate } from '../support/policy-config.js';

/**
 * Clusters from Secrets (home.clusterSecrets): a Secret labelled elevate.dev/cluster=true in the home
 * namespace of cluster dev makes testenv cluster dev2 one Elevate manages, while it runs.
 */
const admin = () => testKubeconfig('dev');
const kubectl = (args: string[], yaml?: string) => kubectlWith(admin(), args, yaml);

/** A cluster Secret; without `cluster`, the cluster is named after the Secret. */
function clusterSecret(name: string, labels: Record<string, string>, kubeconfig: string, cluster?: string) {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'elevate', labels: { 'elevate.dev/cluster': 'true', ...labels } },
    stringData: { kubeconfig, ...(cluster ? { name: cluster } : {}) },
  });
}

async function apply(yaml: string): Promise<void> {
  const res = await kubectl(['apply'], yaml);
  expect(res.code, res.out).toBe(0);
}

describe('clusters from Secrets', () => {
  let server: PolicyServer;
  const secretName = uniqueName('cluster');
  const dev2Kubeconfig = () => readFileSync(elevateKubeconfig('dev2'), 'utf8');
  const enumOfClusters = async () => {
    const doc = (await server.as('alice').get('/openapi.json')).body;
    const spec =
      doc.paths['/api/v1/accessrequests'].post.requestBody.content['application/json'].schema.properties.spec;
    return spec.anyOf[0].oneOf[0].properties.cluster.enum as string[];
  };
  const clusters = async () =>
    (await server.as('alice').get('/api/v1/clusters')).body.items as {
      name: string;
      labels: Record<string, string>;
    }[];
  const ask = (namespace: string) =>
    server
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ cluster: 'dev2', role: 'view', namespace, duration: '30m' }),
      );
  const readPods = (namespace: string): AccessQuestion => ({
    user: 'alice',
    groups: ['devs'],
    verb: 'list',
    resource: 'pods',
    namespace,
  });

  beforeAll(async () => {
    await applyHomeManifests('dev');
    server = await startPolicyElevate({
      clusters: { dev: elevateKubeconfig('dev') },
      policyText: `
home: { cluster: dev, clusterSecrets: true }
policies:
  - name: frozen
    priority: 10
    match: { clusterSelector: { matchLabels: { tier: frozen } } }
    decision: deny
    message: the cluster is frozen
  - name: staging-view
    match: { groups: [devs], roles: [view], clusterSelector: { matchLabels: { env: staging } } }
    decision: auto
    maxDuration: 1h
`,
    });
  });
  afterAll(async () => {
    await kubectl(['delete', 'secret', '-n', 'elevate', secretName, 'bad-cluster', '--ignore-not-found']);
    await server?.stop();
  });

  it('adds a cluster without a restart, with its labels for policies, and removes it again, revoking its grants', async () => {
    const ns = uniqueName('secret-cluster');
    await createNamespace(testKubeconfig('dev2'), ns);
    // Not yet managed: a request naming it is malformed, and changes nothing.
    const before = await ask(ns);
    expect(before.status).toBe(400);
    expect(before.body.detail).toMatch(/must be one of the configured clusters: dev$/);
    expect(await enumOfClusters()).toEqual(['dev']);

    await apply(clusterSecret(secretName, { env: 'staging' }, dev2Kubeconfig(), 'dev2'));
    await eventually(async () => (await enumOfClusters()).includes('dev2'));
    expect(await clusters()).toEqual([
      { name: 'dev', labels: {}, source: 'config' },
      { name: 'dev2', labels: { env: 'staging' }, source: `secret elevate/${secretName}` },
    ]);
    const listed = await elevateCli(server.url)('alice', 'clusters');
    expect(listed.stdout).toMatch(new RegExp(`dev2\\s+env=staging\\s+secret elevate/${secretName}`));
    const granted = await ask(ns);
    expect(granted.status, JSON.stringify(granted.body)).toBe(201);
    expect(granted.body.status.phase).toBe('Active');
    expect(granted.body.status.decision.policy).toBe('staging-view');
    expect(await canI(testKubeconfig('dev2'), readPods(ns))).toBe(true);
    // Drift repair follows the added cluster: a binding deleted by hand comes back.
    const binding = `elevate-${granted.body.metadata.name}`;
    const deleted = await kubectlWith(testKubeconfig('dev2'), ['delete', 'rolebinding', '-n', ns, binding]);
    expect(deleted.code, deleted.out).toBe(0);
    await eventually(
      async () =>
        (await kubectlWith(testKubeconfig('dev2'), ['get', 'rolebinding', '-n', ns, binding])).code === 0,
    );

    // Its labels change while it runs: the deny policy for frozen clusters now matches.
    await kubectl(['label', 'secret', '-n', 'elevate', secretName, 'tier=frozen']);
    await eventually(async () => (await clusters()).find((c) => c.name === 'dev2')?.labels.tier === 'frozen');
    const frozen = await ask(ns);
    expect(frozen.status).toBe(403);
    expect(frozen.body.detail).toBe('the cluster is frozen');

    // Removed: the live grant is revoked and its binding deleted, and the cluster can no longer be named.
    await kubectl(['delete', 'secret', '-n', 'elevate', secretName]);
    const revoked = await eventually(async () => {
      const r = await server.as('alice').get(`/api/v1/accessrequests/${granted.body.metadata.name}`);
      return r.body.status.phase === 'Revoked' ? r.body : null;
    });
    expect(revoked.status.message).toMatch(/cluster dev2 is no longer managed by Elevate/);
    expect(await canI(testKubeconfig('dev2'), readPods(ns))).toBe(false);
    const after = await ask(ns);
    expect(after.status).toBe(400);
    expect(await enumOfClusters()).toEqual(['dev']);

    const events = await auditEvents(server);
    const changes = events
      .filter((e) => String(e.action).startsWith('Cluster'))
      .map((e) => [e.action, e.cluster]);
    // The revocation (ClusterRetired, the grant's) is the leader's sweep: it may land before or after the
    // record of the removal itself.
    expect(changes.slice(0, 2)).toEqual([
      ['ClusterAdded', 'dev2'],
      ['ClusterUpdated', 'dev2'],
    ]);
    expect(changes.slice(2).sort()).toEqual([
      ['ClusterRemoved', 'dev2'],
      ['ClusterRetired', 'dev2'],
    ]);
  });

  it('ignores a Secret whose kubeconfig would run a program, and a request naming it stays malformed', async () => {
    const kubeconfig = parse(dev2Kubeconfig());
    kubeconfig.users[0].user = {
      exec: { apiVersion: 'client.authentication.k8s.io/v1', command: '/bin/sh', args: ['-c', 'id'] },
    };
    const exec = stringify(kubeconfig);
    await apply(clusterSecret('bad-cluster', {}, exec));
    // A good Secret applied after it shows the watch has seen both.
    await apply(clusterSecret(secretName, { env: 'staging' }, dev2Kubeconfig()));
    await eventually(async () => (await enumOfClusters()).includes(secretName));
    expect(await enumOfClusters()).toEqual(['dev', secretName]);
    const res = await server
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ cluster: 'bad-cluster', role: 'view', namespace: 'default' }),
      );
    expect(res.status).toBe(400);
  });
});
