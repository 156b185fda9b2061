import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Sink } from '../../src/adapters/audit-sinks/s3-sink.js';
import { createSyslogSink } from '../../src/adapters/audit-sinks/syslog-sink.js';
import { s3SinkSchema, syslogSinkSchema } from '../../src/config/audit-sink-schema.js';
import type { AuditRecord } from '../../src/domain/audit-record.js';
import { type AuditSink, SinkRejected } from '../../src/services/audit-sink.js';
import { type MotoS3Server, startMotoS3 } from '../support/moto-s3-server.js';
import { type RsyslogReceiver, startRsyslogReceiver } from '../support/rsyslog-receiver.js';
import { writeTestPki } from '../support/test-pki.js';

// A hash-chained trail crossing midnight UTC, with text that needs escaping in syslog structured data and
// characters of more than one byte (octet counting counts bytes).
const actions = ['RequestCreated', 'GrantActivated', 'ActivationRefused'];
const trail: AuditRecord[] = [];
for (let seq = 1, prevHash = '0'.repeat(64); seq <= 60; seq++) {
  const event = {
    seq,
    time: new Date(Date.UTC(2024, 1, 29, 23, 59, 50) + seq * 1000).toISOString(),
    actor: 'zoë@example.com',
    action: actions[seq % 3] as string,
    requestId: seq % 4 === 0 ? null : `req-${seq}"]\\`,
    cluster: 'prod',
    details: { reason: `incident "#${seq}" [sev]\\ünïcode`, seq },
    prevHash,
    source: 'elevate' as const,
  };
  const hash = createHash('sha256')
    .update(`${prevHash}${JSON.stringify(event)}`)
    .digest('hex');
  trail.push({ ...event, id: hash, hash });
  prevHash = hash;
}
const seqs = (from: number, to: number) => trail.slice(from - 1, to);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Polls until `fn` gives a truthy value; fails after `timeoutMs` (bounded wait, no timed assertion). */
async function until<T>(fn: () => Promise<T>, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const e = await promise.then(
    () => null,
    (err: Error) => err,
  );
  if (!e) throw new Error('expected the send to fail');
  return e;
}

let dir: string;
const sinks: AuditSink[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'elevate-sinks-'));
});
afterAll(async () => {
  await Promise.all(sinks.map((s) => s.close?.()));
  await rm(dir, { recursive: true, force: true });
});
const file = async (name: string, content: string) => {
  await writeFile(join(dir, name), `${content}\n`);
  return join(dir, name);
};

describe('S3 sink against a moto server', () => {
  let moto: MotoS3Server;
  let admin: S3Client;
  let keyFiles: { accessKeyIdFile: string; secretAccessKeyFile: string };
  const bucket = 'audit-trail';
  const prefix = 'elevate-audit/';

  beforeAll(async () => {
    moto = await startMotoS3();
    const key = await moto.createS3User('elevate');
    admin = new S3Client({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      forcePathStyle: true,
      credentials: key,
    });
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    await moto.enforceAuth();
    keyFiles = {
      accessKeyIdFile: await file('s3-key-id', key.accessKeyId),
      secretAccessKeyFile: await file('s3-secret', key.secretAccessKey),
    };
  });
  afterAll(async () => {
    admin?.destroy();
    await moto?.stop();
  });

  const s3Sink = async (extra: Record<string, unknown> = {}) => {
    const config = s3SinkSchema.parse({
      ...{ name: 'bucket', type: 's3', bucket, endpoint: moto.endpoint, forcePathStyle: true, timeout: '5s' },
      ...keyFiles,
      ...extra,
    });
    const sink = await createS3Sink(config);
    sinks.push(sink);
    return sink;
  };
  const objects = async () => {
    const listed = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return Promise.all(
      (listed.Contents ?? []).map(async ({ Key }) => {
        const got = await admin.send(new GetObjectCommand({ Bucket: bucket, Key }));
        const body = gunzipSync(await (got.Body?.transformToByteArray() ?? new Uint8Array()));
        const lines = body.toString('utf8').split('\n');
        expect(lines.pop()).toBe('');
        const records = lines.map((l) => JSON.parse(l) as AuditRecord);
        return { key: Key, type: got.ContentType, encoding: got.ContentEncoding, records };
      }),
    );
  };
  const key = (day: string, seq: number) => `${prefix}${day}/${String(seq).padStart(20, '0')}.jsonl.gz`;

  it('writes each batch as one gzipped JSON Lines object keyed by the date and seq of its first record', async () => {
    const sink = await s3Sink();
    for (const [from, to] of [
      [1, 12],
      [13, 20],
      [21, 30],
    ] as const)
      await sink.send(seqs(from, to));
    const got = await objects();
    expect(got.map((o) => o.key)).toEqual([
      key('2024/02/29', 1),
      key('2024/03/01', 13),
      key('2024/03/01', 21),
    ]);
    for (const o of got) expect([o.type, o.encoding]).toEqual(['application/x-ndjson', 'gzip']);
    // The batch crossing midnight is filed under the day of its first record, whole and in order.
    expect(got[0]?.records.at(-1)?.time).toBe('2024-03-01T00:00:02.000Z');
    expect(got.flatMap((o) => o.records)).toEqual(seqs(1, 30));
  });

  it('overwrites its own object when a batch is sent again', async () => {
    const sink = await s3Sink();
    await sink.send(seqs(13, 20));
    const got = await objects();
    expect(got.map((o) => o.key)).toHaveLength(3);
    expect(got.flatMap((o) => o.records.map((r) => r.seq))).toEqual(range(1, 30));
  });

  it('retries wrong credentials or a missing bucket (plain errors, no secret in them) instead of refusing events', async () => {
    const wrongSecret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGSECRET';
    const badSecret = await s3Sink({ secretAccessKeyFile: await file('bad-secret', wrongSecret) });
    const unknownKey = await s3Sink({ accessKeyIdFile: await file('bad-id', 'AKIAUNKNOWNKEY000000') });
    const noBucket = await s3Sink({ bucket: 'no-such-bucket' });
    const errors = [
      await failure(badSecret.send(seqs(31, 31))),
      await failure(unknownKey.send(seqs(31, 31))),
      await failure(noBucket.send(seqs(31, 31))),
    ];
    for (const e of errors) expect(e).not.toBeInstanceOf(SinkRejected);
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/SignatureDoesNotMatch \(403\)/),
      expect.stringMatching(/InvalidAccessKeyId \(403\)/),
      expect.stringMatching(/no-such-bucket.*NoSuchBucket \(404\)/),
    ]);
    for (const e of errors) expect(`${e.message} ${e.stack}`).not.toContain(wrongSecret);
    expect(await objects()).toHaveLength(3);
  });

  it('a hung store times the PUT out; sent again once it answers, the batch lands once', async () => {
    const sink = await s3Sink({ timeout: '1s' });
    moto.pause();
    try {
      const e = await failure(sink.send(seqs(31, 40)));
      expect(e).not.toBeInstanceOf(SinkRejected);
      expect(e.message).toMatch(/no answer within 1000ms/);
    } finally {
      moto.resume();
    }
    await sink.send(seqs(31, 40));
    const got = await objects();
    expect(got.map((o) => o.key).at(-1)).toBe(key('2024/03/01', 31));
    expect(got.flatMap((o) => o.records)).toEqual(seqs(1, 40));
  });

  it('a store that is down fails the send; once it is back the batch is delivered', async () => {
    const sink = await s3Sink();
    await moto.stop();
    const e = await failure(sink.send(seqs(41, 45)));
    expect(e).not.toBeInstanceOf(SinkRejected);
    expect(e.message).toMatch(/ECONNREFUSED/);
    // A restarted moto is empty and checks no credentials: only the batch sent now can be in it.
    await moto.start();
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    await sink.send(seqs(41, 45));
    expect((await objects()).map((o) => [o.key, o.records])).toEqual([[key('2024/03/01', 41), seqs(41, 45)]]);
  });
});

describe('S3 sink over https', () => {
  it('trusts the CA of caFile, and without it refuses the store (a plain error, retried)', async () => {
    const pki = await writeTestPki(await mkdtemp(join(dir, 'pki-')));
    const moto = await startMotoS3({ tls: { cert: pki.serverCert, key: pki.serverKey } });
    const ca = await readFile(pki.caCert);
    const admin = new S3Client({
      ...{ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true },
      credentials: { accessKeyId: 'admin', secretAccessKey: 'admin' },
      requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca }) }),
    });
    try {
      await admin.send(new CreateBucketCommand({ Bucket: 'tls-bucket' }));
      // This moto checks no credentials; any pair will do.
      const [keyId, secret] = [await file('tls-key-id', 'any'), await file('tls-secret', 'any')];
      const config = (caFile?: string) =>
        s3SinkSchema.parse({
          ...{ name: 'tls-bucket', type: 's3', bucket: 'tls-bucket', endpoint: moto.endpoint },
          ...{
            forcePathStyle: true,
            caFile,
            accessKeyIdFile: keyId,
            secretAccessKeyFile: secret,
          },
        });
      const [trusting, untrusting] = [await createS3Sink(config(pki.caCert)), await createS3Sink(config())];
      sinks.push(trusting, untrusting);
      const e = await failure(untrusting.send(seqs(1, 5)));
      expect(e).not.toBeInstanceOf(SinkRejected);
      expect(e.message).toMatch(/certificate/);
      await trusting.send(seqs(1, 5));
      const listed = await admin.send(new ListObjectsV2Command({ Bucket: 'tls-bucket' }));
      expect(listed.Contents?.map((o) => o.Key)).toEqual([
        'elevate-audit/2024/02/29/00000000000000000001.jsonl.gz',
      ]);
    } finally {
      admin.destroy();
      await moto.stop();
    }
  });
});

/** One received line taken apart as RFC 5424 says, structured-data escapes undone. */
function parse5424(line: string) {
  const head = /^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) \[/.exec(line);
  if (!head) throw new Error(`not RFC 5424: ${line}`);
  let i = head[0].length;
  const sdId = line.slice(i, line.indexOf(' ', i));
  i += sdId.length;
  const params: Record<string, string> = {};
  while (line[i] === ' ') {
    const name = line.slice(i + 1, line.indexOf('="', i));
    i = line.indexOf('="', i) + 2;
    let value = '';
    for (; line[i] !== '"'; i++) {
      if (line[i] === '\\') i++;
      value += line[i];
    }
    params[name] = value;
    i++;
  }
  if (line.slice(i, i + 2) !== '] ') throw new Error(`structured data not closed: ${line}`);
  const [, pri, time, host, app, procId, msgId] = head;
  return {
    pri: Number(pri),
    time,
    host,
    app,
    procId,
    msgId,
    sdId,
    params,
    body: JSON.parse(line.slice(i + 2)),
  };
}

describe.each(['tcp', 'tls'] as const)('syslog sink over %s against rsyslogd', (protocol) => {
  let receiver: RsyslogReceiver;
  let caFile: string | undefined;

  beforeAll(async () => {
    const pki = protocol === 'tls' ? await writeTestPki(await mkdtemp(join(dir, 'pki-'))) : undefined;
    caFile = pki?.caCert;
    receiver = await startRsyslogReceiver({ tls: pki });
  });
  afterAll(async () => {
    await receiver?.close();
  });

  const syslogSink = async (extra: Record<string, unknown> = {}) => {
    const config = syslogSinkSchema.parse({
      ...{ name: 'collector', type: 'syslog', host: '127.0.0.1', port: receiver.port, protocol, caFile },
      ...{ appName: 'elevate-test', timeout: '5s' },
      ...extra,
    });
    const sink = await createSyslogSink(config);
    sinks.push(sink);
    return sink;
  };
  const received = async (count: number) =>
    (
      await until(async () => {
        const lines = await receiver.lines();
        return lines.length >= count ? lines : null;
      })
    ).map(parse5424);

  it('delivers RFC 5424 messages with the action, the chain in structured data and the record as JSON, in order', async () => {
    const sink = await syslogSink();
    await sink.send(seqs(1, 10));
    await sink.send(seqs(11, 20));
    const got = await received(20);
    expect(got.map((m) => m.params.seq)).toEqual(range(1, 20).map(String));
    for (const [i, m] of got.entries()) {
      const record = trail[i] as AuditRecord;
      // Facility 10 (authpriv) * 8 + severity: warning 4 for a refusal, notice 5 for access, info 6.
      const pri = { ActivationRefused: 84, GrantActivated: 85, RequestCreated: 86 }[record.action];
      expect(m).toMatchObject({ pri, time: record.time, app: 'elevate-test', msgId: record.action });
      expect(m.procId).toBe(String(process.pid));
      expect(m.sdId).toBe('elevate@32473');
      expect(m.params).toEqual({
        seq: String(record.seq),
        hash: record.hash,
        prevHash: record.prevHash,
        ...(record.requestId ? { requestId: record.requestId } : {}),
      });
      expect(m.body).toEqual(record);
    }
  });

  it('fails while the receiver is down and, once it is back, reconnects and delivers each record once', async () => {
    const sink = await syslogSink();
    await sink.send(seqs(21, 25));
    await received(25);
    await receiver.stop();
    const e = await failure(sink.send(seqs(26, 30)));
    expect(e).not.toBeInstanceOf(SinkRejected);
    expect(e.message).toMatch(/ECONNREFUSED/);
    await receiver.start();
    await sink.send(seqs(26, 30));
    await sink.send(seqs(31, 35));
    const got = await received(35);
    expect(got.map((m) => m.body)).toEqual(seqs(1, 35));
  });
});

describe('syslog sink over TLS', () => {
  it('refuses a collector whose certificate it cannot trust (a plain error: retried once the CA is fixed)', async () => {
    const pki = await writeTestPki(await mkdtemp(join(dir, 'pki-')));
    const receiver = await startRsyslogReceiver({ tls: pki });
    try {
      const config = syslogSinkSchema.parse({
        ...{ name: 'collector', type: 'syslog', host: '127.0.0.1', port: receiver.port, protocol: 'tls' },
      });
      const sink = await createSyslogSink(config);
      sinks.push(sink);
      const e = await failure(sink.send(seqs(1, 1)));
      expect(e).not.toBeInstanceOf(SinkRejected);
      expect(e.message).toMatch(/certificate/);
      expect(await receiver.lines()).toEqual([]);
    } finally {
      await receiver.close();
    }
  });

  it('fails (for a retry) when the TLS handshake does not complete in time', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as { port: number }).port;
      const sink = await createSyslogSink(
        syslogSinkSchema.parse({
          name: 'silent',
          type: 'syslog',
          host: '127.0.0.1',
          port,
          protocol: 'tls',
          timeout: '500ms',
        }),
      );
      sinks.push(sink);
      const e = await failure(sink.send(seqs(1, 1)));
      expect(e).not.toBeInstanceOf(SinkRejected);
      expect(e.message).toMatch(/no connection or write within 500ms/);
    } finally {
      silent.close();
    }
  });
});
