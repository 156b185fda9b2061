import { z } from 'zod';
import { grantMechanisms } from '../domain/grant-mechanism.js';
import { configSchema } from './config-schema.js';

type JsonSchema = Record<string, unknown>;

/** What the chart sets in the config file itself; values.config must leave them out. */
const setByChart = ['listen', 'storage', 'tls', 'metrics', 'home'] as const;

const str = (more: JsonSchema = {}): JsonSchema => ({ type: 'string', ...more });
const bool: JsonSchema = { type: 'boolean' };
const dnsLabel = str({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 });
const stringMap: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };
const objects: JsonSchema = { type: 'array', items: { type: 'object' } };
const quantity: JsonSchema = {
  anyOf: [
    str({ pattern: '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$' }),
    { type: 'integer', minimum: 0 },
  ],
};
const closed = (properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  properties,
  ...(required.length > 0 ? { required } : {}),
});

/**
 * values.config: the config file's own schema (the zod one Elevate validates with, as JSON Schema), so
 * `helm install` refuses a misspelt or misplaced setting before anything is deployed. The chart sets
 * listen, storage, tls, metrics and home, and adds the home cluster to clusters.
 */
function configValues(): JsonSchema {
  const schema = z.toJSONSchema(configSchema, {
    target: 'draft-7',
    io: 'input',
    // Refinements across fields (durations against limits, references) stay Elevate's to check at start.
    unrepresentable: 'any',
  }) as JsonSchema & { properties: Record<string, JsonSchema>; required?: string[] };
  const { $schema: _, ...rest } = schema;
  const properties = { ...schema.properties };
  for (const key of setByChart) delete properties[key];
  const clusters = properties.clusters as JsonSchema;
  properties.clusters = { ...clusters, minItems: 0 };
  return {
    ...rest,
    description:
      "Elevate's config file, without what the chart sets itself (listen, storage, tls, metrics, home)",
    properties,
    required: (schema.required ?? []).filter((k) => k !== 'storage' && k !== 'clusters'),
  };
}

/** The chart's values.schema.json. */
export function chartValuesSchema(): JsonSchema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Elevate chart values',
    type: 'object',
    additionalProperties: false,
    properties: {
      global: { type: 'object' },
      image: closed(
        {
          repository: str({ minLength: 1 }),
          tag: str(),
          digest: str({ pattern: '^(sha256:[a-f0-9]{64})?$' }),
          pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] },
        },
        ['repository'],
      ),
      imagePullSecrets: { type: 'array', items: closed({ name: str({ minLength: 1 }) }, ['name']) },
      storage: closed(
        {
          kind: { enum: ['sqlite', 'postgres'] },
          sqlite: closed({ size: quantity, storageClassName: str(), existingClaim: str() }),
          postgres: closed({
            url: str({
              pattern: '^$|^postgres(ql)?://[^:@/]+@[^/]+/.+$',
              description: 'postgres://USER@HOST:PORT/DB, without a password: that comes from passwordSecret',
            }),
            passwordSecret: closed({ name: str(), key: str({ minLength: 1 }) }),
          }),
        },
        ['kind'],
      ),
      replicas: { type: 'integer', minimum: 1 },
      home: closed(
        {
          clusterName: dnsLabel,
          namespace: { anyOf: [{ const: '' }, dnsLabel] },
          labels: stringMap,
          subjects: closed({ userPrefix: str(), groupPrefix: str() }),
          clusterSecrets: { type: 'boolean' },
          grants: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...grantMechanisms] } },
          credentialNamespace: dnsLabel,
        },
        ['clusterName'],
      ),
      config: configValues(),
      secretMounts: {
        type: 'array',
        items: closed({ name: dnsLabel, secretName: dnsLabel }, ['name', 'secretName']),
      },
      tls: closed({ secretName: str() }),
      service: closed({
        type: { enum: ['ClusterIP', 'NodePort', 'LoadBalancer'] },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        annotations: stringMap,
      }),
      metrics: closed({
        enabled: bool,
        // 8080 is the API's.
        port: { type: 'integer', minimum: 1024, maximum: 65535, not: { const: 8080 } },
        serviceMonitor: closed({
          enabled: bool,
          interval: str({ pattern: '^[0-9]+(ms|s|m|h)$' }),
          labels: stringMap,
        }),
      }),
      networkPolicy: closed({ enabled: bool, ingressFrom: objects, metricsFrom: objects, egress: objects }),
      serviceAccount: closed({ create: bool, name: str(), annotations: stringMap }),
      rbac: closed({
        create: bool,
        bindableClusterRoles: { type: 'array', items: str({ minLength: 1 }) },
        bindableRoles: { type: 'array', items: str({ minLength: 1 }) },
        tokenReviews: bool,
      }),
      crds: closed({ install: bool, keep: bool }),
      admissionPolicies: closed({ install: bool }),
      resources: { type: 'object' },
      podAnnotations: stringMap,
      podLabels: stringMap,
      nodeSelector: stringMap,
      tolerations: objects,
      affinity: { type: 'object' },
      priorityClassName: str(),
      podDisruptionBudget: closed({ enabled: bool }),
    },
    allOf: [
      {
        if: { properties: { storage: { properties: { kind: { const: 'sqlite' } } } } },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a promise
        then: {
          properties: {
            replicas: { const: 1, description: 'SQLite runs one replica: use storage.kind postgres for 2+' },
          },
        },
      },
      {
        if: { properties: { storage: { properties: { kind: { const: 'postgres' } } } } },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a promise
        then: {
          properties: {
            storage: {
              properties: {
                postgres: {
                  properties: {
                    url: { minLength: 1 },
                    passwordSecret: { properties: { name: { minLength: 1 } } },
                  },
                },
              },
            },
          },
        },
      },
    ],
  };
}
