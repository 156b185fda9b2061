import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, inject, it } from 'vitest';
import { testenvDown, testenvUp } from '../../src/testenv/testenv.js';
import { canI, createNamespace, testKubeconfig, uniqueName, waitFor } from '../support/kube.js';

function kubeconfig(path: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

const api = <T extends k8s.ApiType>(path: string, type: k8s.ApiConstructor<T>): T =>
  kubeconfig(path).makeApiClient(type);

interface Recorded {
  pid: number;
  cmdline: string[];
}

const recordedProcesses = (dir: string): Recorded[] =>
  JSON.parse(readFileSync(join(dir, 'testenv.json'), 'utf8')).processes;

// Read independently of src/testenv so the test does not trust the code under test to check itself.
function alive(proc: Recorded): boolean {
  try {
    return readFileSync(`/proc/${proc.pid}/cmdline`, 'latin1') === `${proc.cmdline.join('\0')}\0`;
  } catch {
    return false;
  }
}

describe('testenv control plane', () => {
  const dev = testKubeconfig('dev');

  it('aggregates the built-in edit ClusterRole', async () => {
    const edit = await api(dev, k8s.RbacAuthorizationV1Api).readClusterRole({ name: 'edit' });
    expect(edit.rules?.length).toBeGreaterThan(0);
  });

  it('lets system:masters do anything', async () => {
    expect(
      await canI(dev, {
        user: 'elevate-admin',
        groups: ['system:masters'],
        verb: 'delete',
        resource: 'nodes',
      }),
    ).toBe(true);
    expect(
      await canI(dev, {
        user: 'elevate-admin',
        groups: ['system:masters'],
        verb: 'escalate',
        resource: 'clusterroles',
        group: 'rbac.authorization.k8s.io',
      }),
    ).toBe(true);
  });

  it('denies an unknown user until a RoleBinding grants view', async () => {
    const namespace = uniqueName('rbac');
    await createNamespace(dev, namespace);
    const alice = {
      user: 'alice',
      groups: ['system:authenticated'],
      verb: 'get',
      resource: 'pods',
      namespace,
    };
    expect(await canI(dev, alice)).toBe(false);

    await api(dev, k8s.RbacAuthorizationV1Api).createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'alice-view' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }],
      },
    });
    // The RBAC authorizer reads bindings from an informer cache, so the grant shows up shortly after.
    await waitFor(() => canI(dev, alice), { timeoutMs: 5_000 });
    expect(await canI(dev, { ...alice, verb: 'delete' })).toBe(false);
    expect(await canI(dev, { ...alice, namespace: 'default' })).toBe(false);
  });

  it('gives a new namespace its default ServiceAccount', async () => {
    const namespace = uniqueName('sa');
    await createNamespace(dev, namespace);
    const sa = await waitFor(() =>
      api(dev, k8s.CoreV1Api).readNamespacedServiceAccount({ name: 'default', namespace }),
    );
    expect(sa.metadata?.name).toBe('default');
  });

  it('runs dev2 as a separate cluster', async () => {
    const dev2 = testKubeconfig('dev2');
    const namespace = uniqueName('only-dev');
    await createNamespace(dev, namespace);
    await expect(api(dev2, k8s.CoreV1Api).readNamespace({ name: namespace })).rejects.toMatchObject({
      code: 404,
    });
  });
});

describe('testenvDown', () => {
  it('stops its own processes and nothing else', async () => {
    const dir = await mkdtemp(join(inject('testenvDir'), 'private-'));
    try {
      const [cluster] = await testenvUp({ dir });
      const own = recordedProcesses(dir);
      expect(own.map((p) => p.cmdline[0]?.split('/').pop()).sort()).toEqual([
        'etcd',
        'kube-apiserver',
        'kube-controller-manager',
      ]);
      expect(own.every(alive)).toBe(true);

      // Asking again for the same thing reuses it; asking for something else is refused.
      expect(await testenvUp({ dir })).toEqual([cluster]);
      await expect(testenvUp({ dir, clusters: 2 })).rejects.toThrow(/already has a running testenv/);

      await testenvDown({ dir });
      expect(own.filter(alive)).toEqual([]);
      await testenvDown({ dir });

      const shared = recordedProcesses(inject('testenvDir'));
      expect(shared.filter((p) => !alive(p))).toEqual([]);
      expect(await new k8s.Health(kubeconfig(testKubeconfig('dev'))).readyz({})).toBe(true);
    } finally {
      await testenvDown({ dir });
      await rm(dir, { recursive: true, force: true });
    }
  });
});
