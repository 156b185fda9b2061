import * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadClusterClients, loadKubeConfig } from '../../src/adapters/kube/kube-clients.js';
import { parseConfig } from '../../src/config/load-config.js';

const config = `storage: sqlite:/var/lib/elevate/elevate.db
auth: { kubernetes: { cluster: home } }
clusters:
  - name: home
    kubeconfig: in-cluster
  - name: prod
    kubeconfig: ../secrets/prod/kubeconfig
`;

describe('kubeconfig: in-cluster', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('is kept as it is, where a kubeconfig path is made absolute', () => {
    const c = parseConfig(config, '/etc/elevate/config/config.yaml');
    expect(c.clusters.map((cl) => cl.kubeconfigPath)).toEqual([
      'in-cluster',
      '/etc/elevate/secrets/prod/kubeconfig',
    ]);
  });

  it('(client-node, relied on) reaches the API server the pod is told of, with the token the kubelet keeps fresh', () => {
    vi.stubEnv('KUBERNETES_SERVICE_HOST', 'fd00::1');
    vi.stubEnv('KUBERNETES_SERVICE_PORT', '443');
    const kc = new k8s.KubeConfig();
    kc.loadFromCluster();
    expect(kc.getCurrentCluster()).toMatchObject({
      server: 'https://[fd00::1]:443',
      caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
      skipTLSVerify: false,
    });
    // Read from the file at each use (not once at start): projected tokens are rotated hourly.
    expect(kc.getCurrentUser()?.authProvider).toEqual({
      name: 'tokenFile',
      config: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
    });
  });

  it('without the mounted token fails the start, saying what is missing', () => {
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '10.96.0.1');
    vi.stubEnv('KUBERNETES_SERVICE_PORT', '443');
    expect(() => loadKubeConfig({ name: 'home', kubeconfigPath: 'in-cluster' })).toThrow(
      '/var/run/secrets/kubernetes.io/serviceaccount/token is missing: is the ServiceAccount token mounted in the pod?',
    );
  });

  it('outside a pod fails the start, naming the cluster and why', () => {
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '');
    expect(() => loadClusterClients([{ name: 'home', kubeconfigPath: 'in-cluster' }])).toThrow(
      'cluster home: cannot use kubeconfig in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: not running in a pod',
    );
  });
});
