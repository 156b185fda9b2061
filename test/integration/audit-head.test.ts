import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningElevate, requestBody, startElevate } from '../support/elevate.js';
import { freePort } from '../support/free-port.js';
import { createNamespace, elevateKubeconfig, testKubeconfig, uniqueName } from '../support/kube.js';

let server: RunningElevate;
let metricsUrl: string;

/** A grant, for the audit events it writes (RequestCreated, RequestApproved, GrantActivated). */
async function grant(): Promise<void> {
  const ns = uniqueName('audit-head');
  await createNamespace(testKubeconfig('dev'), ns);
  const res = await server
    .as('alice')
    .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '1h' }));
  expect(res.body.status.phase).toBe('Active');
}

beforeAll(async () => {
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  server = await startElevate({
    clusters: { dev: elevateKubeconfig('dev') },
    extra: `metrics:\n  listen: 127.0.0.1:${port}\n`,
  });
  await grant();
});

afterAll(async () => {
  await server?.stop();
});

const verify = async (query = '') => (await server.as('root').get(`/api/v1/audit/verify${query}`)).body;

/** Runs SQL on the server's own SQLite file, as someone with access to the disk could. */
function tamper(sql: string): void {
  const db = new Database(join(dirname(server.configFile), 'elevate.db'));
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

describe('the audit head', () => {
  it('is the same in /metrics and in audit verify', async () => {
    const { intact, head } = await verify();
    expect(intact).toBe(true);
    expect(head.seq).toBeGreaterThanOrEqual(3);
    expect(head.hash).toMatch(/^[0-9a-f]{64}$/);
    const text = await (await fetch(metricsUrl)).text();
    expect(text).toContain(`elevate_audit_head{hash="${head.hash}"} ${head.seq}\n`);
  });

  it('is for admins only, and must be written SEQ:HASH', async () => {
    expect((await server.as('alice').get('/api/v1/audit/verify')).status).toBe(403);
    const bad = await server.as('root').get('/api/v1/audit/verify?expectHead=3:nothex');
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('querystring.expectHead');
  });

  it('detects the newest events deleted, which the chain alone cannot', async () => {
    await grant();
    const before = await verify();
    expect(before.intact).toBe(true);
    const expectHead = `?expectHead=${before.head.seq}:${before.head.hash}`;
    expect(await verify(expectHead)).toMatchObject({ intact: true, expectedHead: { present: true } });

    tamper(`delete from audit_events where seq = ${before.head.seq}`);

    // What is left still chains from the start: only the head recorded earlier shows the truncation.
    const after = await verify(expectHead);
    expect(after.firstBrokenSeq).toBeNull();
    expect(after.head.seq).toBe(before.head.seq - 1);
    expect(after.intact).toBe(false);
    expect(after.expectedHead).toEqual({ ...before.head, present: false });
  });

  it('shows an event deleted from the middle as a broken chain', async () => {
    await grant();
    const { head } = await verify();
    const middle = head.seq - 1;
    tamper(`delete from audit_events where seq = ${middle}`);
    expect(await verify()).toMatchObject({ intact: false, firstBrokenSeq: head.seq });
  });
});
