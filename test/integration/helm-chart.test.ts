import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';
import { composeElevate, createLogger, type Elevate } from '../../src/composition-root.js';
import { parseConfig } from '../../src/config/load-config.js';
import { type Api, apiFor, people } from '../support/elevate.js';
import { helm, kubeconform } from '../support/helm-tools.js';
import {
  canI,
  createNamespace,
  sharedCluster,
  testKubeconfig,
  uniqueName,
  userKubeconfig,
  waitFor,
} from '../support/kube.js';
import { kubectlWith, letPeopleAsk, serviceAccountKubeconfig } from '../support/kubectl.js';

const chart = join(import.meta.dirname, '../../deploy/helm/elevate');
const valueSets = ['default', ...readdirSync(join(chart, 'ci')).map((f) => `ci/${f}`)];
const valuesArgs = (set: string) => (set === 'default' ? [] : ['--values', join(chart, set)]);

type Manifest = { kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };

async function render(set: string, more: string[] = []): Promise<Manifest[]> {
  const out = await helm(['template', 'jit', chart, '--namespace', 'elevate', ...valuesArgs(set), ...more]);
  expect(out.code, out.out).toBe(0);
  return parseAllDocuments(out.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

function configOf(manifests: Manifest[]): string {
  const configMap = manifests.find((m) => m.kind === 'ConfigMap') as
    | { data: Record<string, string> }
    | undefined;
  return configMap?.data['config.yaml'] ?? '';
}

describe('the Helm chart', () => {
  it.each(valueSets)('passes helm lint (%s values)', async (set) => {
    const out = await helm(['lint', '--strict', chart, ...valuesArgs(set)]);
    expect(out.code, out.out).toBe(0);
    expect(out.out).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it.each(valueSets)('renders objects the Kubernetes 1.36 schemas accept (%s values)', async (set) => {
    const manifests = await render(set);
    const result = await kubeconform(manifests.map((m) => `---\n${stringify(m)}`).join(''), {
      // The Prometheus Operator's CRD is not part of Kubernetes: its one object is not checked.
      skip: ['ServiceMonitor'],
    });
    expect(result.summary).toMatchObject({ invalid: 0, errors: 0 });
    expect(result.summary.valid + result.summary.skipped).toBe(manifests.length);
    expect(result.summary.skipped).toBe(manifests.filter((m) => m.kind === 'ServiceMonitor').length);
  });

  it.each(valueSets)('writes a config file Elevate accepts (%s values)', async (set) => {
    const config = parseConfig(configOf(await render(set)), '/etc/elevate/config/config.yaml');
    expect(config.clusters[0]).toMatchObject({ kubeconfigPath: 'in-cluster' });
    expect(config.home?.cluster).toBe(config.clusters[0]?.name);
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8080 });
  });

  it('refuses values that cannot work, saying why', async () => {
    const cases: [string[], RegExp][] = [
      [['--set', 'replicas=2'], /replicas/],
      [['--set', 'storage.kind=postgres'], /url|passwordSecret/],
      [['--set', 'config.listen=0.0.0.0:1'], /config/],
      [['--set', 'imageTag=1.0'], /imageTag/],
      // values.config is checked against the config file's own schema: a typo fails the install, not the pod.
      [['--set', 'config.auth.tokenFil=/x'], /tokenFil/],
      [['--set', 'config.policies[0].name=p', '--set', 'config.policies[0].decision=maybe'], /decision/],
      [
        ['--set', 'storage.postgres.url=postgres://u:secret@db/elevate', '--set', 'storage.kind=postgres'],
        /url/,
      ],
    ];
    for (const [args, why] of cases) {
      const out = await helm(['template', 'jit', chart, ...args]);
      expect(out.code, args.join(' ')).not.toBe(0);
      expect(out.out).toMatch(why);
    }
  });

  it('runs Elevate under Pod Security "restricted": the API server admits its pod', async () => {
    const admin = testKubeconfig('dev2');
    const ns = uniqueName('restricted');
    await createNamespace(admin, ns);
    const label = await kubectlWith(admin, [
      'label',
      'namespace',
      ns,
      'pod-security.kubernetes.io/enforce=restricted',
    ]);
    expect(label.code, label.out).toBe(0);
    for (const sa of ['jit-elevate', 'elevate-preexisting']) {
      expect((await kubectlWith(admin, ['create', 'serviceaccount', sa, '-n', ns])).code).toBe(0);
    }
    for (const set of valueSets) {
      const deployment = (await render(set)).find((m) => m.kind === 'Deployment') as Manifest & {
        spec: { template: { spec: Record<string, unknown> } };
      };
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'elevate', namespace: ns },
        spec: deployment.spec.template.spec,
      };
      const res = await kubectlWith(admin, ['create', '--dry-run=server', '-o', 'name'], stringify(pod));
      expect(res.code, `${set}: ${res.out}`).toBe(0);
    }
    // The check can fail: the same pod as root is refused.
    const deployment = (await render('default')).find((m) => m.kind === 'Deployment') as Manifest & {
      spec: { template: { spec: { securityContext: Record<string, unknown> } } };
    };
    const root = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'elevate-root', namespace: ns },
      spec: { ...deployment.spec.template.spec, securityContext: { runAsUser: 0 } },
    };
    const refused = await kubectlWith(admin, ['create', '--dry-run=server'], stringify(root));
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/violates PodSecurity "restricted/);
  });

  describe('installed with helm into a cluster', () => {
    const admin = () => testKubeconfig('dev2');
    const release = 'jit';
    const ns = uniqueName('elevate-helm');
    const target = uniqueName('helm-target');
    const kubectl: Record<string, string> = {};
    const as = (who: string, args: string[], yaml?: string) =>
      kubectlWith(kubectl[who] as string, args, yaml);
    let elevate: Elevate | undefined;
    let api: (who: string) => Api;
    const values = `
config:
  auth:
    kubernetes: { cluster: home }
    tokenFile: /etc/elevate/secrets/people/tokens.csv
    admins: { groups: [platform-admins] }
  limits: { minDuration: 1s }
  reconcile: { interval: 1s }
  policies:
    - name: devs-view
      match: { groups: [devs], roles: [view] }
      decision: auto
      maxDuration: 1h
secretMounts:
  - { name: people, secretName: elevate-people }
`;

    beforeAll(async () => {
      await createNamespace(admin(), target);
      const valuesFile = join(mkdtempSync(join(tmpdir(), 'elevate-helm-')), 'values.yaml');
      writeFileSync(valuesFile, values);
      const installed = await helm([
        'install',
        release,
        chart,
        '--kubeconfig',
        admin(),
        '--namespace',
        ns,
        '--create-namespace',
        // The shared cluster may hold the CRDs already (kubectl apply -f deploy/kubernetes/ by another test).
        '--take-ownership',
        '--values',
        valuesFile,
      ]);
      expect(installed.code, installed.out).toBe(0);
      kubectl.alice = await userKubeconfig(sharedCluster('dev2'), 'alice', ['devs']);
      await letPeopleAsk('dev2', ns);
    });
    afterAll(async () => {
      await elevate?.stop();
      await helm(['uninstall', release, '--kubeconfig', admin(), '--namespace', ns]);
    });

    it('every object is accepted and the CRDs are established', async () => {
      const manifest = await helm(['get', 'manifest', release, '--kubeconfig', admin(), '--namespace', ns]);
      expect(manifest.code, manifest.out).toBe(0);
      const objects = parseAllDocuments(manifest.stdout).filter((d) => d.toJS() !== null);
      expect(objects.length).toBeGreaterThanOrEqual(15);
      const present = await kubectlWith(admin(), ['get', '-o', 'name'], manifest.stdout);
      expect(present.code, present.out).toBe(0);
      expect(present.out.trim().split('\n')).toHaveLength(objects.length);
      const established = await kubectlWith(admin(), [
        'wait',
        '--for=condition=Established',
        '--timeout=60s',
        ...['accesspolicies', 'accessprofiles', 'accessrequests', 'accessapprovals'].map(
          (p) => `crd/${p}.elevate.dev`,
        ),
      ]);
      expect(established.code, established.out).toBe(0);
    });

    it('Elevate with the chart’s ServiceAccount token works with exactly the chart’s RBAC', async () => {
      // The config the chart wrote, run here as the pod would run it: the home cluster through the chart's
      // ServiceAccount (a TokenRequest token instead of the mounted one), files and ports made local.
      const cm = await kubectlWith(admin(), [
        'get',
        'configmap',
        `${release}-elevate`,
        '-n',
        ns,
        '-o',
        'json',
      ]);
      expect(cm.code, cm.out).toBe(0);
      const config = parseYaml(JSON.parse(cm.out).data['config.yaml']);
      const dir = mkdtempSync(join(tmpdir(), 'elevate-chart-'));
      writeFileSync(
        join(dir, 'tokens.csv'),
        Object.entries(people)
          .map(([name, groups]) => `token-${name},${name},uid-${name},"${groups.join(',')}"`)
          .join('\n'),
      );
      config.listen = '127.0.0.1:0';
      config.storage = 'sqlite:./elevate.db';
      config.metrics = undefined;
      config.auth.tokenFile = './tokens.csv';
      config.clusters[0].kubeconfig = await serviceAccountKubeconfig('dev2', ns, `${release}-elevate`);
      const file = join(dir, 'elevate.yaml');
      writeFileSync(file, stringify(config));
      elevate = await composeElevate(parseConfig(stringify(config), file), createLogger('silent'));
      const url = await elevate.start();
      api = (who) => apiFor(url, who);

      // TokenReview: a ServiceAccount signs in with its own token.
      const robot = await kubectlWith(admin(), ['create', 'token', `${release}-elevate`, '-n', ns]);
      const whoami = await api(robot.out.trim()).get('/api/v1/whoami');
      expect(whoami.status, JSON.stringify(whoami.body)).toBe(200);
      expect(whoami.body.user).toBe(`system:serviceaccount:${ns}:${release}-elevate`);

      // AccessPolicy read, and its status written.
      const policy = uniqueName('helm-policy');
      const applied = await kubectlWith(
        admin(),
        ['apply'],
        `apiVersion: elevate.dev/v1
kind: AccessPolicy
metadata: { name: ${policy} }
spec: { priority: 50, match: { users: [nobody-${policy}] }, decision: deny }
`,
      );
      expect(applied.code, applied.out).toBe(0);
      await waitFor(async () => {
        const res = await kubectlWith(admin(), ['get', 'accesspolicy', policy, '-o', 'json']);
        const conditions = res.code === 0 ? (JSON.parse(res.out).status?.conditions ?? []) : [];
        return conditions.some(
          (c: { type: string; status: string }) => c.type === 'Accepted' && c.status === 'True',
        );
      });

      // alice has signed in once: her groups are what the policies judge.
      expect((await api('token-alice').get('/api/v1/whoami')).status).toBe(200);
      // alice asks with kubectl; Elevate binds view in the target namespace; deleting the object ends it.
      const name = uniqueName('view');
      const created = await as(
        'alice',
        ['create'],
        `apiVersion: elevate.dev/v1
kind: AccessRequest
metadata: { name: ${name}, namespace: ${ns} }
spec: { requester: alice, cluster: home, role: view, namespace: ${target}, duration: 10m, reason: chart check }
`,
      );
      expect(created.code, created.out).toBe(0);
      const waited = await as('alice', [
        'wait',
        '--for=condition=Active',
        `accessrequest/${name}`,
        '-n',
        ns,
        '--timeout=30s',
      ]);
      const shown = await as('alice', ['get', 'accessrequest', name, '-n', ns, '-o', 'jsonpath={.status}']);
      expect(waited.code, `${waited.out} ${shown.out}`).toBe(0);
      const question = { user: 'alice', groups: ['devs'], verb: 'list', resource: 'pods', namespace: target };
      expect(await canI(admin(), question)).toBe(true);
      expect((await as('alice', ['delete', 'accessrequest', name, '-n', ns])).code).toBe(0);
      await waitFor(async () => !(await canI(admin(), question)), { timeoutMs: 20_000 });
      await kubectlWith(admin(), ['delete', 'accesspolicy', policy]);
      await elevate.stop();
      elevate = undefined;
    });

    it('uninstalling keeps the CRDs (and every object in them)', async () => {
      const removed = await helm(['uninstall', release, '--kubeconfig', admin(), '--namespace', ns]);
      expect(removed.code, removed.out).toBe(0);
      expect(removed.out).toMatch(/kept due to the resource policy/);
      const crds = await kubectlWith(admin(), ['get', 'crd', 'accessrequests.elevate.dev', '-o', 'name']);
      expect(crds.code, crds.out).toBe(0);
    });
  });
});
