/**
 * Elevate's custom resources (elevate.dev/v1) as CustomResourceDefinitions. AccessPolicy and AccessProfile
 * speak the config file's policy language: their schemas are generated from the same zod schemas
 * (policy-schema.ts), so the file and the cluster cannot drift apart. AccessRequest and AccessApproval
 * mirror the API's request and approval. `scripts/gen-crds.ts` writes them to deploy/kubernetes/crds.yaml.
 */
import { z } from 'zod';
import { policy, profile } from './policy-schema.js';
import { type JsonSchema, toStructural } from './structural-schema.js';

export const group = 'elevate.dev';
export const version = 'v1';

interface Rule {
  rule: string;
  message: string;
  fieldPath?: string;
}

/** The config schema of a named thing (a policy, a profile) as the spec of an object named by metadata.name. */
function specOf(schema: z.ZodType, rules: Rule[] = []): JsonSchema {
  const json = toStructural(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema);
  const properties = { ...(json.properties as Record<string, JsonSchema>) };
  delete properties.name;
  const required = (json.required as string[] | undefined)?.filter((r) => r !== 'name') ?? [];
  return {
    ...json,
    properties,
    ...(required.length > 0 ? { required } : {}),
    ...(rules.length > 0 ? { 'x-kubernetes-validations': rules } : {}),
  };
}

/** metav1.Condition, as every Kubernetes status writes it. */
const condition: JsonSchema = {
  type: 'object',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: { type: 'string', maxLength: 316 },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
    lastTransitionTime: { type: 'string', format: 'date-time' },
    reason: { type: 'string', maxLength: 1024 },
    message: { type: 'string', maxLength: 32768 },
  },
};

const conditions: JsonSchema = {
  type: 'array',
  items: condition,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
};

const acceptedStatus: JsonSchema = {
  type: 'object',
  properties: { observedGeneration: { type: 'integer', format: 'int64' }, conditions },
};

const immutable: Rule = { rule: 'self == oldSelf', message: 'spec cannot change: create a new object' };

const requestSpec: JsonSchema = {
  type: 'object',
  required: ['requester', 'reason'],
  properties: {
    requester: {
      type: 'string',
      minLength: 1,
      maxLength: 256,
      description: 'The Kubernetes user creating the object (admission refuses anyone else)',
    },
    cluster: { type: 'string', minLength: 1, maxLength: 63, description: 'clusters[].name' },
    role: { type: 'string', minLength: 1, maxLength: 253 },
    roleKind: { type: 'string', enum: ['ClusterRole', 'Role'] },
    namespace: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
    clusterWide: { type: 'boolean' },
    profile: {
      type: 'string',
      minLength: 1,
      maxLength: 63,
      description: 'An AccessProfile or profiles[].name',
    },
    duration: { type: 'string', pattern: '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$', maxLength: 32 },
    reason: { type: 'string', minLength: 1, maxLength: 2000 },
    ticket: { type: 'string', minLength: 1, maxLength: 200 },
    startTime: { type: 'string', format: 'date-time' },
  },
  'x-kubernetes-validations': [
    immutable,
    {
      rule: 'has(self.profile) != (has(self.cluster) && has(self.role))',
      message: 'give a profile, or a cluster and a role',
    },
    {
      rule: '!(has(self.namespace) && has(self.clusterWide) && self.clusterWide)',
      message: 'give a namespace or clusterWide: true, not both',
    },
    {
      rule: '!has(self.role) || has(self.namespace) || (has(self.clusterWide) && self.clusterWide)',
      message: 'give a namespace, or clusterWide: true',
    },
  ],
};

const requestStatus: JsonSchema = {
  type: 'object',
  properties: {
    observedGeneration: { type: 'integer', format: 'int64' },
    request: { type: 'string', description: 'The id of the access request Elevate made for this object' },
    phase: { type: 'string' },
    message: { type: 'string' },
    policy: { type: 'string', description: 'The policy that decided' },
    activatedAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
    approvals: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          user: { type: 'string' },
          decision: { type: 'string' },
          comment: { type: 'string' },
          at: { type: 'string', format: 'date-time' },
        },
      },
    },
    conditions,
  },
};

const approvalSpec: JsonSchema = {
  type: 'object',
  required: ['request', 'approver', 'decision'],
  properties: {
    request: { type: 'string', minLength: 1, maxLength: 253, description: 'The AccessRequest’s name' },
    approver: {
      type: 'string',
      minLength: 1,
      maxLength: 256,
      description: 'The Kubernetes user creating the object (admission refuses anyone else)',
    },
    decision: { type: 'string', enum: ['Approve', 'Deny'] },
    comment: { type: 'string', maxLength: 2000 },
  },
  'x-kubernetes-validations': [immutable],
};

const approvalStatus: JsonSchema = {
  type: 'object',
  properties: {
    observedGeneration: { type: 'integer', format: 'int64' },
    phase: { type: 'string', description: 'Applied, or Refused with the reason in message' },
    request: { type: 'string', description: 'The id of the access request it was applied to' },
    message: { type: 'string' },
    conditions,
  },
};

interface Kind {
  kind: string;
  plural: string;
  scope: 'Cluster' | 'Namespaced';
  shortNames: string[];
  spec: JsonSchema;
  status: JsonSchema;
  columns: { name: string; type: string; jsonPath: string }[];
}

/** A printer column of `kubectl get`. */
const column = (name: string, jsonPath: string, type = 'string') => ({ name, type, jsonPath });

const accepted = column('Accepted', '.status.conditions[?(@.type=="Accepted")].status');
const age = column('Age', '.metadata.creationTimestamp', 'date');

export const kinds: Kind[] = [
  {
    kind: 'AccessPolicy',
    plural: 'accesspolicies',
    scope: 'Cluster',
    shortNames: ['apol'],
    spec: specOf(policy, [
      {
        rule: "self.decision != 'approval' || has(self.approval)",
        message: 'approval is required when decision is approval',
      },
    ]),
    status: acceptedStatus,
    columns: [
      column('Decision', '.spec.decision'),
      column('Priority', '.spec.priority', 'integer'),
      accepted,
      age,
    ],
  },
  {
    kind: 'AccessProfile',
    plural: 'accessprofiles',
    scope: 'Cluster',
    shortNames: ['aprof'],
    spec: specOf(profile),
    status: acceptedStatus,
    columns: [accepted, age],
  },
  {
    kind: 'AccessRequest',
    plural: 'accessrequests',
    scope: 'Namespaced',
    shortNames: ['areq'],
    spec: requestSpec,
    status: requestStatus,
    columns: [
      column('Requester', '.spec.requester'),
      column('Cluster', '.spec.cluster'),
      column('Role', '.spec.role'),
      column('Namespace', '.spec.namespace'),
      column('Phase', '.status.phase'),
      column('Expires', '.status.expiresAt', 'date'),
      age,
    ],
  },
  {
    kind: 'AccessApproval',
    plural: 'accessapprovals',
    scope: 'Namespaced',
    shortNames: ['aappr'],
    spec: approvalSpec,
    status: approvalStatus,
    columns: [
      column('Request', '.spec.request'),
      column('Approver', '.spec.approver'),
      column('Decision', '.spec.decision'),
      column('Phase', '.status.phase'),
      age,
    ],
  },
];

/** The CustomResourceDefinitions, as apiextensions.k8s.io/v1 objects. */
export function customResourceDefinitions(): object[] {
  return kinds.map((k) => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${k.plural}.${group}`, labels: { 'app.kubernetes.io/part-of': 'elevate' } },
    spec: {
      group,
      names: {
        kind: k.kind,
        listKind: `${k.kind}List`,
        plural: k.plural,
        singular: k.kind.toLowerCase(),
        shortNames: k.shortNames,
        categories: ['elevate'],
      },
      scope: k.scope,
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: k.columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: k.spec,
                status: k.status,
              },
            },
          },
        },
      ],
    },
  }));
}
