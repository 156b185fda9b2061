import { Agent } from 'node:https';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { SinkConfigOf } from '../../config/audit-sink-schema.js';
import type { AuditRecord } from '../../domain/audit-record.js';
import { type AuditSink, SinkRejected } from '../../services/audit-sink.js';
import { readSecretFile } from '../secret-file.js';
import { caOf } from './sink-http.js';

const gzipAsync = promisify(gzip);

/**
 * S3 error codes that refuse this object's content: it will never be taken as it is. The body is opaque
 * gzip and the key is made from the prefix and a seq, so only the size is the content's fault. Everything
 * else — AccessDenied, NoSuchBucket, InvalidAccessKeyId, SignatureDoesNotMatch, a wrong region, KeyTooLong
 * (the prefix), InvalidArgument (a header or feature a compatible store does not take), 5xx, SlowDown —
 * is a setup problem or a passing one, retried for ever, so no event is given up over a config mistake.
 */
const contentRefusals = new Set(['EntityTooLarge']);

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * The object key of a batch: PREFIX/YYYY/MM/DD/<first seq, 20 digits>.jsonl.gz, dated by its first record
 * in UTC. It depends only on the batch's first record, so a batch sent again (after a timeout whose PUT
 * did land, or a crash before the cursor moved) overwrites its own object instead of adding a second; the
 * padding makes the keys of a day list in seq order.
 */
export function s3KeyOf(prefix: string, first: AuditRecord): string {
  const t = new Date(first.time);
  const day = `${t.getUTCFullYear()}/${pad2(t.getUTCMonth() + 1)}/${pad2(t.getUTCDate())}`;
  return `${prefix}${day}/${String(first.seq).padStart(20, '0')}.jsonl.gz`;
}

/** The object body: one AuditRecord per line (JSON Lines), gzipped. */
export async function s3BodyOf(records: AuditRecord[]): Promise<Buffer> {
  return gzipAsync(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

/**
 * The audit trail written to S3 (or an S3-compatible store: endpoint + forcePathStyle), one gzipped JSON
 * Lines object per batch, each line an AuditRecord with its seq and chain hashes, so whoever reads the
 * bucket can check that no seq is missing and no hash was altered. Credentials come from the two files
 * (read once, here) or else the SDK's default chain (environment, web identity, instance role). caFile,
 * when given, holds the only CAs an https endpoint is checked against.
 */
export async function createS3Sink(config: SinkConfigOf<'s3'>): Promise<AuditSink> {
  const field = `audit.sinks.${config.name}`;
  const secrets: string[] = [];
  let credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  if (config.accessKeyIdFile || config.secretAccessKeyFile) {
    if (!config.accessKeyIdFile || !config.secretAccessKeyFile)
      throw new Error(`${field}: give both accessKeyIdFile and secretAccessKeyFile, or neither`);
    credentials = {
      accessKeyId: await readSecretFile(config.accessKeyIdFile, `${field}.accessKeyIdFile`),
      secretAccessKey: await readSecretFile(config.secretAccessKeyFile, `${field}.secretAccessKeyFile`),
    };
    secrets.push(credentials.secretAccessKey);
  }
  const ca = await caOf(config.caFile, field);
  const client = new S3Client({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle,
    ...(credentials ? { credentials } : {}),
    // The relay retries, with its own backoff and metrics; retries inside the SDK would only hide failures
    // and stretch one delivery past its timeout.
    maxAttempts: 1,
    // Checksums beyond what an operation requires (CRC32 headers on every PUT) are refused by some
    // S3-compatible stores; AWS itself keeps the SDK's default.
    ...(config.endpoint ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const } : {}),
    requestHandler: new NodeHttpHandler({
      connectionTimeout: config.timeout,
      requestTimeout: config.timeout,
      throwOnRequestTimeout: true,
      ...(ca ? { httpsAgent: new Agent({ ca, keepAlive: true }) } : {}),
    }),
  });

  /** No secret in a message, even if a store echoed one back. */
  const scrub = (text: string) => secrets.reduce((t, s) => t.split(s).join('[redacted]'), text);

  return {
    name: config.name,
    type: 's3',
    async send(records) {
      const first = records[0];
      if (!first) return;
      const key = s3KeyOf(config.prefix, first);
      const where = `s3://${config.bucket}/${key}`;
      const command = new PutObjectCommand({
        Bucket: config.bucket,
        Key: key,
        Body: await s3BodyOf(records),
        ContentType: 'application/x-ndjson',
        ContentEncoding: 'gzip',
      });
      try {
        // The handler's timeouts bound connecting and the request; the signal bounds the whole send, a
        // credential lookup of the default chain included.
        await client.send(command, { abortSignal: AbortSignal.timeout(config.timeout) });
      } catch (e) {
        throw classify(e, where, config.timeout, scrub);
      }
    },
    async close() {
      client.destroy();
    },
  };
}

/** A failed PUT as the relay needs it: SinkRejected only for a refusal of the content itself. */
function classify(e: unknown, where: string, timeoutMs: number, scrub: (t: string) => string): Error {
  if (e instanceof S3ServiceException) {
    const status = e.$metadata.httpStatusCode;
    const message = scrub(`${where}: ${e.name}${status ? ` (${status})` : ''}: ${e.message}`);
    if (status !== undefined && status >= 400 && status < 500 && contentRefusals.has(e.name))
      return new SinkRejected(message);
    return new Error(message);
  }
  const err = e as Error;
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError')
    return new Error(`${where}: no answer within ${timeoutMs}ms`);
  return new Error(scrub(`${where}: ${err?.message ?? String(e)}`));
}
