/**
 * The config of audit streaming: `audit.sinks[]`, each a place the whole audit trail is delivered to, in
 * order, at least once (services/outbox.ts). Secrets come from files only; a sink's name names its cursor,
 * so renaming a sink starts it afresh.
 */
import { z } from 'zod';
import { serviceUrl } from './integration-schema.js';
import { durationText } from './policy-schema.js';
import { checkBothOrNeither, checkUniqueNames } from './schema-checks.js';

const sinkName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'sink names are DNS labels (lower case, digits, dashes)')
  .max(63);

/** What every sink has: where its delivery starts, how much goes at once, when an event is given up on. */
const common = {
  name: sinkName,
  /** Events per delivery (one HTTP request, one S3 object, one syslog write). */
  batchSize: z.number().int().min(1).max(10_000).default(100),
  /**
   * Deliveries of one event the sink refused (a 4xx: it will never take it) before it is skipped and
   * recorded as such; failures that may pass (5xx, timeouts, a closed port) are retried for ever.
   */
  maxAttempts: z.number().int().min(1).max(100).default(5),
  /** A new sink gets the trail from its first event (`beginning`) or only what happens from now on. */
  startAt: z.enum(['beginning', 'now']).default('beginning'),
  /** How long one delivery may take before it counts as failed. */
  timeout: durationText.prefault('10s'),
  /** PEM bundle to trust for the sink's TLS, when it is not a public CA. */
  caFile: z.string().min(1).optional(),
};

const httpAuth = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('basic'), username: z.string().min(1), passwordFile: z.string().min(1) }),
  z.strictObject({ type: z.literal('bearer'), tokenFile: z.string().min(1) }),
  /** Elasticsearch / OpenSearch API keys: `Authorization: ApiKey <key>`. */
  z.strictObject({ type: z.literal('apiKey'), keyFile: z.string().min(1) }),
]);

const headerName = z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name');

export const webhookSinkSchema = z.strictObject({
  ...common,
  type: z.literal('webhook'),
  url: serviceUrl,
  /** HMAC-SHA256 key; the body's signature goes in X-Elevate-Signature (`t=<unix>,v1=<hex of "t.body">`). */
  secretFile: z.string().min(1).optional(),
  /** Extra headers sent as they are. */
  headers: z.record(headerName, z.string()).default({}),
  /** Extra headers whose values are secrets: read from these files. */
  headerFiles: z.record(headerName, z.string().min(1)).default({}),
});

export const splunkSinkSchema = z.strictObject({
  ...common,
  type: z.literal('splunk'),
  /** The HEC base URL (https://splunk:8088); events go to /services/collector/event. */
  url: serviceUrl,
  /** The HEC token: `Authorization: Splunk <token>`. */
  tokenFile: z.string().min(1),
  index: z.string().min(1).optional(),
  sourcetype: z.string().min(1).default('elevate:audit'),
  source: z.string().min(1).default('elevate'),
});

export const elasticsearchSinkSchema = z.strictObject({
  ...common,
  type: z.literal('elasticsearch'),
  /** The cluster's URL; documents go through its _bulk API (OpenSearch speaks the same). */
  url: serviceUrl,
  index: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'an index name (lower case)'),
  auth: httpAuth.optional(),
});

const lokiLabel = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'a Loki label name');

export const lokiSinkSchema = z.strictObject({
  ...common,
  type: z.literal('loki'),
  /** Loki's base URL; entries go to /loki/api/v1/push. */
  url: serviceUrl,
  /** Stream labels; `action` and `cluster` of each event are added unless set here. */
  labels: z.record(lokiLabel, z.string()).default({ job: 'elevate' }),
  /** X-Scope-OrgID, for a multi-tenant Loki. */
  tenant: z.string().min(1).optional(),
  auth: httpAuth.optional(),
});

export const s3SinkSchema = z.strictObject({
  ...common,
  type: z.literal('s3'),
  bucket: z.string().min(3).max(63),
  /** Keys are PREFIX/YYYY/MM/DD/<first seq>.jsonl.gz. */
  prefix: z.string().default('elevate-audit/'),
  region: z.string().min(1).default('us-east-1'),
  /** An S3-compatible store (MinIO, Ceph, moto…); absent: AWS. */
  endpoint: serviceUrl.optional(),
  forcePathStyle: z.boolean().default(false),
  /** Absent: the AWS SDK's default credential chain (environment, web identity, instance role). */
  accessKeyIdFile: z.string().min(1).optional(),
  secretAccessKeyFile: z.string().min(1).optional(),
});

export const syslogSinkSchema = z.strictObject({
  ...common,
  type: z.literal('syslog'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535),
  /** RFC 5424 messages, octet-counted (RFC 6587) over TCP, or over TLS (RFC 5425). */
  protocol: z.enum(['tcp', 'tls']).default('tcp'),
  appName: z.string().min(1).max(48).default('elevate'),
  /** The syslog facility code (10: security/authorization). */
  facility: z.number().int().min(0).max(23).default(10),
});

export const auditSinkSchema = z.discriminatedUnion('type', [
  webhookSinkSchema,
  splunkSinkSchema,
  elasticsearchSinkSchema,
  lokiSinkSchema,
  s3SinkSchema,
  syslogSinkSchema,
]);

export type AuditSinkConfig = z.infer<typeof auditSinkSchema>;
export type SinkConfigOf<T extends AuditSinkConfig['type']> = Extract<AuditSinkConfig, { type: T }>;

export const auditSchema = z
  .strictObject({
    sinks: z.array(auditSinkSchema).default([]),
  })
  .superRefine((a, ctx) => {
    checkUniqueNames(a.sinks, 'sinks', 'sink', ctx);
    a.sinks.forEach((s, i) => {
      if (s.type === 's3')
        checkBothOrNeither(
          [s.accessKeyIdFile, s.secretAccessKeyFile],
          ['accessKeyIdFile', 'secretAccessKeyFile'],
          ['sinks', i],
          ctx,
        );
    });
  })
  .prefault({});

/** The sinks with every file path (…File, headerFiles, auth's) made absolute by `rel`. */
export function resolveAuditSinks(
  audit: z.infer<typeof auditSchema>,
  rel: (p: string) => string,
): AuditSinkConfig[] {
  const absolute = <T extends object>(o: T): T =>
    Object.fromEntries(
      Object.entries(o).map(([k, v]) => [k, k.endsWith('File') && typeof v === 'string' ? rel(v) : v]),
    ) as T;
  return audit.sinks.map((sink) => {
    const out: AuditSinkConfig = absolute(sink);
    if (out.type === 'webhook')
      out.headerFiles = Object.fromEntries(Object.entries(out.headerFiles).map(([h, f]) => [h, rel(f)]));
    if ((out.type === 'elasticsearch' || out.type === 'loki') && out.auth) out.auth = absolute(out.auth);
    return out;
  });
}
