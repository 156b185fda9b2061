import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { helm, helmToolsDir, kubeconform, kubeSchemaDir } from '../support/helm-tools.js';

const repo = join(import.meta.dirname, '..', '..');
const deploy = join(repo, 'deploy');
const manifests = [
  ...readdirSync(join(deploy, 'kubernetes'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(deploy, 'kubernetes', f)),
  join(deploy, 'elevate-rbac.yaml'),
];
const documents = (yaml: string) => parseAllDocuments(yaml).filter((d) => d.toJS() !== null).length;

const roleBinding = (roleRefKey: string) => `
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: people, namespace: elevate }
${roleRefKey}: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: elevate-people }
subjects:
  - { apiGroup: rbac.authorization.k8s.io, kind: Group, name: devs }
`;
const accessPolicy = (name: string, specExtra = '', metadataExtra = '') => `
apiVersion: elevate.dev/v1
kind: AccessPolicy
metadata: { name: ${name}${metadataExtra} }
spec:
  priority: 10
  match: { groups: [devs], clusters: [prod-*], namespaces: [payments], roles: [edit] }
  decision: approval
  approval: { approvers: { groups: [sre-leads] }, required: 2, timeout: 1h }
  maxDuration: 2h
${specExtra}`;

describe('helm and kubeconform, and the Kubernetes 1.36 schemas deploy/ is checked against', () => {
  // A cold cache builds both tools from source: about 6 minutes on 2 cores (`make test` does it beforehand).
  beforeAll(() => helmToolsDir(), 20 * 60_000);

  it('helm is the pinned v4.3.1', async () => {
    const out = await helm(['version', '--short']);
    expect(out.code, out.out).toBe(0);
    expect(out.stdout.trim()).toBe('v4.3.1');
  });

  it('every object in deploy/kubernetes/ and deploy/elevate-rbac.yaml is valid, none left unchecked', async () => {
    const expected = manifests.reduce((n, file) => n + documents(readFileSync(file, 'utf8')), 0);
    const result = await kubeconform(manifests);
    expect(result.resources.filter((r) => r.status !== 'statusValid')).toEqual([]);
    expect(result.summary).toEqual({ valid: expected, invalid: 0, errors: 0, skipped: 0 });
    expect(new Set(result.resources.map((r) => r.kind))).toEqual(
      new Set([
        'Namespace',
        'CustomResourceDefinition',
        'ValidatingAdmissionPolicy',
        'ValidatingAdmissionPolicyBinding',
        'ServiceAccount',
        'ClusterRole',
        'ClusterRoleBinding',
        'Role',
        'RoleBinding',
      ]),
    );
  });

  it('a misspelled field is refused at any depth, and a kind without a schema is an error, not a pass', async () => {
    const crd = readFileSync(join(deploy, 'kubernetes', 'crds.yaml'), 'utf8').replace(
      /^ {2}scope: Cluster$/m,
      '  scope: Cluster\n  preserveUnknownField: false',
    );
    const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: elevate, namespace: elevate }
spec:
  selector: { matchLabels: { app: elevate } }
  template:
    metadata: { labels: { app: elevate } }
    spec:
      containers: [{ name: elevate, image: elevate:1, imagePulPolicy: Always }]
`;
    const widget = 'apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w }\n';
    const result = await kubeconform(
      [roleBinding('roleRefs'), crd, deployment, widget].map((y) => `---\n${y}`).join(''),
    );
    const byKind = Object.fromEntries(result.resources.map((r) => [r.kind, r]));
    expect(byKind.RoleBinding?.status).toBe('statusInvalid');
    expect(byKind.RoleBinding?.validationErrors).toEqual(
      expect.arrayContaining([
        { path: '', msg: "additional properties 'roleRefs' not allowed" },
        { path: '', msg: "missing property 'roleRef'" },
      ]),
    );
    const crds = result.resources.filter((r) => r.kind === 'CustomResourceDefinition');
    expect(crds.map((r) => r.name)).toContain('accesspolicies.elevate.dev');
    expect(crds.find((r) => r.name === 'accesspolicies.elevate.dev')).toMatchObject({
      status: 'statusInvalid',
      validationErrors: [{ path: '/spec', msg: "additional properties 'preserveUnknownField' not allowed" }],
    });
    expect(byKind.Deployment).toMatchObject({
      status: 'statusInvalid',
      validationErrors: [
        {
          path: '/spec/template/spec/containers/0',
          msg: "additional properties 'imagePulPolicy' not allowed",
        },
      ],
    });
    expect(byKind.Widget).toMatchObject({ status: 'statusError', msg: 'could not find schema for Widget' });
    expect(result.summary).toEqual({ valid: crds.length - 1, invalid: 3, errors: 1, skipped: 0 });
  });

  it('an AccessPolicy is checked against the working tree’s CRD: unknown spec and metadata fields are refused', async () => {
    const result = await kubeconform(
      [
        accessPolicy('good'),
        accessPolicy('spec-typo', '  maxDurration: 4h\n'),
        accessPolicy('metadata-typo', '', ', lables: { team: payments }'),
        accessPolicy('wrong-type', '  requireMfa: "true"\n'),
      ]
        .map((y) => `---\n${y}`)
        .join(''),
    );
    // kubeconform checks documents in parallel: its output is in no particular order.
    expect(Object.fromEntries(result.resources.map((r) => [r.name, [r.status, r.validationErrors]]))).toEqual(
      {
        good: ['statusValid', undefined],
        'spec-typo': [
          'statusInvalid',
          [{ path: '/spec', msg: "additional properties 'maxDurration' not allowed" }],
        ],
        'metadata-typo': [
          'statusInvalid',
          [{ path: '/metadata', msg: "additional properties 'lables' not allowed" }],
        ],
        'wrong-type': [
          'statusInvalid',
          [{ path: '/spec/requireMfa', msg: 'got string, want null or boolean' }],
        ],
      },
    );
  });

  it('accepts what the API server accepts: int-or-string, numeric quantities, null for an optional field', async () => {
    const result = await kubeconform(`
apiVersion: v1
kind: Service
metadata: { name: elevate, namespace: elevate, annotations: }
spec:
  selector: { app: elevate }
  ports: [{ name: http, port: 80, targetPort: http }, { name: metrics, port: 9090, targetPort: 9090 }]
---
apiVersion: v1
kind: Pod
metadata: { name: elevate, namespace: elevate, creationTimestamp: null }
spec:
  containers:
    - name: elevate
      image: elevate:1
      resources: { requests: { cpu: 1, memory: 64Mi }, limits: { cpu: 500m } }
`);
    expect(result.resources.filter((r) => r.status !== 'statusValid')).toEqual([]);
    expect(result.summary).toEqual({ valid: 2, invalid: 0, errors: 0, skipped: 0 });
  });

  it('the script writes CRD schemas in kubeconform’s naming where it is told, next to the cached Kubernetes ones', async () => {
    const out = mkdtempSync(join(tmpdir(), 'elevate-crd-schemas-'));
    const script = join(repo, 'scripts', 'kube-json-schemas.ts');
    const tsx = join(repo, 'node_modules', '.bin', 'tsx');
    const crds = await promisify(execFile)(tsx, [
      script,
      'crds',
      join(deploy, 'kubernetes', 'crds.yaml'),
      out,
    ]);
    expect(crds.stdout.trim()).toBe(out);
    expect(readdirSync(out).sort()).toEqual([
      'accessapproval-elevate-v1.json',
      'accesspolicy-elevate-v1.json',
      'accessprofile-elevate-v1.json',
      'accessrequest-elevate-v1.json',
    ]);
    const kube = await promisify(execFile)(tsx, [script, 'kube']);
    expect(kube.stdout.trim()).toBe(kubeSchemaDir());
    expect(readdirSync(kubeSchemaDir())).toEqual(
      expect.arrayContaining([
        'pod-v1.json',
        'deployment-apps-v1.json',
        'clusterrole-rbac-v1.json',
        'validatingadmissionpolicy-admissionregistration-v1.json',
        'customresourcedefinition-apiextensions-v1.json',
      ]),
    );
  });
});
