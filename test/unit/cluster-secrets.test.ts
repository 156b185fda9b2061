import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { isRefused, readClusterSecret } from '../../src/adapters/kube/cluster-secrets.js';
import { parseConfig } from '../../src/config/load-config.js';
import {
  createClusterDirectory,
  fileClusters,
  withDiscoveredLabels,
} from '../../src/services/cluster-directory.js';
import type { ClusterChange, ManagedCluster } from '../../src/services/ports.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>, contexts = ['main']) {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster }],
    users: [{ name: 'u', user }],
    contexts: contexts.map((name) => ({ name, context: { cluster: 'c', user: 'u' } })),
    'current-context': contexts[0],
  });
}
const goodCluster = { server: 'https://10.0.0.1:6443', 'certificate-authority-data': b64('CA') };
const goodUser = { token: 'secret-token' };

function secret(data: Record<string, string>, meta: Partial<k8s.V1ObjectMeta> = {}): k8s.V1Secret {
  return {
    metadata: { name: 'prod-eu', namespace: 'elevate', labels: { 'elevate.dev/cluster': 'true' }, ...meta },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  };
}

describe('a cluster Secret', () => {
  it('describes a cluster: name from the Secret or its name key, labels, prefixes from annotations', () => {
    const read = readClusterSecret(
      secret(
        { kubeconfig: kubeconfig(goodCluster, goodUser) },
        {
          labels: { 'elevate.dev/cluster': 'true', env: 'prod', region: 'eu' },
          annotations: { 'elevate.dev/user-prefix': 'oidc:', 'elevate.dev/group-prefix': 'oidc-groups:' },
        },
      ),
    );
    if (isRefused(read)) throw new Error(read.reason);
    expect(read.cluster).toEqual({
      name: 'prod-eu',
      labels: { env: 'prod', region: 'eu' },
      subjects: { userPrefix: 'oidc:', groupPrefix: 'oidc-groups:' },
      grants: { mechanisms: ['binding'], credentialNamespace: 'elevate-grants' },
      source: 'secret elevate/prod-eu',
    });
    expect(read.kubeconfig.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
    const named = readClusterSecret(secret({ kubeconfig: kubeconfig(goodCluster, goodUser), name: 'eu-1' }));
    expect(isRefused(named) ? named.reason : named.cluster.name).toBe('eu-1');
  });

  it('offers the grant mechanisms its annotations name, and refuses one it does not know', () => {
    const annotated = (annotations: Record<string, string>) =>
      readClusterSecret(secret({ kubeconfig: kubeconfig(goodCluster, goodUser) }, { annotations }));
    const both = annotated({
      'elevate.dev/grants': 'binding, credential',
      'elevate.dev/credential-namespace': 'jit',
    });
    expect(isRefused(both) ? both.reason : both.cluster.grants).toEqual({
      mechanisms: ['binding', 'credential'],
      credentialNamespace: 'jit',
    });
    const unknown = annotated({ 'elevate.dev/grants': 'binding,magic' });
    expect(isRefused(unknown) && unknown.reason).toBe('elevate.dev/grants: unknown grant mechanism magic');
  });

  it('uses the context it names, and its digest changes with the connection only', () => {
    const text = kubeconfig(goodCluster, goodUser, ['a', 'b']);
    const a = readClusterSecret(secret({ kubeconfig: text }));
    const b = readClusterSecret(secret({ kubeconfig: text, context: 'b' }));
    const relabelled = readClusterSecret(secret({ kubeconfig: text }, { labels: { tier: '1' } }));
    if (isRefused(a) || isRefused(b) || isRefused(relabelled)) throw new Error('refused');
    expect(b.kubeconfig.getCurrentContext()).toBe('b');
    expect(b.digest).not.toBe(a.digest);
    expect(relabelled.digest).toBe(a.digest);
    const missing = readClusterSecret(secret({ kubeconfig: text, context: 'nope' }));
    expect(isRefused(missing) && missing.reason).toMatch(/has no context nope/);
  });

  it('never quotes the kubeconfig in its reason (it holds credentials)', () => {
    const broken = `${kubeconfig(goodCluster, { token: 'sekret-token-value' })}\n  bad: [indent`;
    const read = readClusterSecret(secret({ kubeconfig: broken }));
    expect(isRefused(read) && read.reason).toMatch(/kubeconfig cannot be used/);
    expect(JSON.stringify(read)).not.toContain('sekret-token-value');
  });

  it.each([
    ['no kubeconfig key', { context: 'x' }, /has no kubeconfig key/],
    [
      'a name that is not a DNS label',
      { name: 'Prod_EU', kubeconfig: kubeconfig(goodCluster, goodUser) },
      /not a DNS label/,
    ],
    ['YAML that is no kubeconfig', { kubeconfig: '{{{' }, /kubeconfig cannot be used/],
    ['plain http', { kubeconfig: kubeconfig({ server: 'http://10.0.0.1' }, goodUser) }, /must be https/],
    [
      'insecure-skip-tls-verify',
      { kubeconfig: kubeconfig({ server: 'https://10.0.0.1', 'insecure-skip-tls-verify': true }, goodUser) },
      /insecure-skip-tls-verify is not allowed/,
    ],
    [
      'a CA file path',
      {
        kubeconfig: kubeconfig(
          { server: 'https://10.0.0.1', 'certificate-authority': '/etc/ca.crt' },
          goodUser,
        ),
      },
      /must be inline/,
    ],
    [
      'an exec plugin (it would run a program)',
      {
        kubeconfig: kubeconfig(goodCluster, {
          exec: { apiVersion: 'client.authentication.k8s.io/v1', command: '/bin/sh', args: ['-c', 'id'] },
        }),
      },
      /exec and auth-provider credentials are not allowed/,
    ],
    [
      'a client key file path',
      { kubeconfig: kubeconfig(goodCluster, { 'client-certificate': '/a.crt', 'client-key': '/a.key' }) },
      /client certificates must be inline/,
    ],
    [
      'no credentials',
      { kubeconfig: kubeconfig(goodCluster, {}) },
      /neither a token nor a client certificate/,
    ],
  ])('is refused with %s, saying why', (_, data, reason) => {
    const read = readClusterSecret(secret(data as Record<string, string>));
    expect(isRefused(read)).toBe(true);
    expect(isRefused(read) && read).toMatchObject({
      secret: 'secret elevate/prod-eu',
      reason: expect.stringMatching(reason),
    });
  });
});

describe('the cluster directory', () => {
  const discovered = (name: string, labels: Record<string, string> = {}): ManagedCluster => ({
    name,
    labels,
    subjects: { userPrefix: '', groupPrefix: '' },
    source: `secret elevate/${name}`,
  });

  it('keeps the file’s clusters and reports what Secrets add, change and remove', () => {
    const directory = createClusterDirectory(fileClusters([{ name: 'dev' }]));
    const changes: ClusterChange[] = [];
    directory.onChange((c) => changes.push(c));
    directory.replaceDiscovered([discovered('eu'), discovered('us')]);
    expect(directory.all().map((c) => c.name)).toEqual(['dev', 'eu', 'us']);
    directory.replaceDiscovered([discovered('eu', { env: 'prod' }), discovered('ap')]);
    directory.replaceDiscovered([discovered('eu', { env: 'prod' }), discovered('ap')], new Set(['ap']));
    directory.replaceDiscovered([discovered('eu', { env: 'prod' }), discovered('ap')]);
    const names = (cs: ManagedCluster[]) => cs.map((c) => c.name);
    expect(changes.map((c) => [names(c.added), names(c.updated), names(c.removed)])).toEqual([
      [['eu', 'us'], [], []],
      [['ap'], ['eu'], ['us']],
      [[], ['ap'], []],
    ]);
    expect(directory.get('us')).toBeUndefined();
    expect(directory.get('dev')?.source).toBe('config');
  });

  it('lets the file win over a Secret naming one of its clusters', () => {
    const directory = createClusterDirectory(fileClusters([{ name: 'dev' }]));
    const { shadowed, change } = directory.replaceDiscovered([discovered('dev'), discovered('eu')]);
    expect(shadowed.map((c) => c.source)).toEqual(['secret elevate/dev']);
    expect(change.added.map((c) => c.name)).toEqual(['eu']);
    expect(directory.get('dev')?.source).toBe('config');
  });

  it('gives policies the labels of clusters from Secrets beside the file’s', () => {
    const { policySet } = parseConfig(
      'storage: "sqlite:/tmp/x.db"\nauth: { tokenFile: /t }\nclusters: [{ name: dev, kubeconfig: /k, labels: { env: dev } }]\n',
      '/etc/elevate.yaml',
    );
    const directory = createClusterDirectory(fileClusters([{ name: 'dev' }]));
    const source = withDiscoveredLabels({ current: () => policySet }, directory);
    expect(source.current().clusterLabels).toEqual({ dev: { env: 'dev' } });
    directory.replaceDiscovered([discovered('eu', { env: 'prod' }), discovered('dev', { env: 'forged' })]);
    expect(source.current().clusterLabels).toEqual({ dev: { env: 'dev' }, eu: { env: 'prod' } });
    expect(source.current().digest).toBe(policySet.digest);
  });
});
