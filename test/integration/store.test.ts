import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { createKyselyStore } from '../../src/adapters/store/kysely-store.js';
import { openPostgresStore } from '../../src/adapters/store/postgres-store.js';
import type { Database } from '../../src/adapters/store/schema.js';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store.js';
import type { AccessRequest } from '../../src/domain/access-request.js';
import { StaleWrite } from '../../src/domain/errors.js';
import type { Store } from '../../src/services/ports.js';
import { accessRequest } from '../support/fixtures.js';
import { waitFor } from '../support/kube.js';
import { createDatabase } from '../support/postgres-server.js';

/** Each dialect: how to open a fresh store, and how to reopen it after editing a row behind its back. */
interface Dialect {
  name: string;
  fresh(): Promise<{ store: Store; tamper(sql: string): Promise<Store> }>;
}

const dialects: Dialect[] = [
  {
    name: 'SQLite',
    async fresh() {
      const path = join(mkdtempSync(join(tmpdir(), 'elevate-store-')), 'elevate.db');
      return {
        store: await openSqliteStore(path),
        async tamper(sql) {
          const raw = new SqliteDatabase(path);
          raw.prepare(sql).run();
          raw.close();
          return openSqliteStore(path);
        },
      };
    },
  },
  {
    name: 'PostgreSQL',
    async fresh() {
      const url = await createDatabase(inject('postgresUrl'), 'store');
      return {
        store: await openPostgresStore(url),
        async tamper(sql) {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          await client.query(sql);
          await client.end();
          return openPostgresStore(url);
        },
      };
    },
  },
];

const t0 = new Date('2026-01-01T00:00:00Z');
const request: AccessRequest = accessRequest({
  id: 'ar-1',
  at: t0,
  phase: 'Approved',
  target: { role: 'view', namespace: null },
  spec: { reason: 'why', ticket: 'INC-1' },
  policy: { decision: 'auto', approvers: { users: [], groups: [] }, required: 0 },
});
const ev = (action: string) => ({
  time: t0,
  actor: 'alice',
  action,
  requestId: 'ar-1',
  cluster: 'dev',
  details: {},
});

describe.each(dialects)('the $name store', (dialect) => {
  it('round-trips a request with its dates, and filters and counts', async () => {
    const { store } = await dialect.fresh();
    const active: AccessRequest = {
      ...request,
      grant: {
        bindings: [{ cluster: 'dev', kind: 'ClusterRoleBinding', name: 'b', namespace: null }],
        activatedAt: t0,
        expiresAt: t0,
      },
    };
    await store.createRequest(active, [ev('RequestCreated')]);
    expect(await store.getRequest('ar-1')).toEqual(active);
    expect(await store.getRequest('ar-none')).toBeNull();
    expect(await store.listRequests({ phases: ['Approved'] })).toHaveLength(1);
    expect(await store.listRequests({ phases: ['Active'] })).toHaveLength(0);
    expect(await store.listRequests({ requester: 'bob' })).toHaveLength(0);
    expect(await store.listRequests({ updatedAfter: new Date(active.updatedAt.getTime() - 1) })).toHaveLength(
      1,
    );
    expect(await store.listRequests({ updatedAfter: active.updatedAt })).toHaveLength(0);
    expect(await store.countByPhase()).toEqual({ Approved: 1 });
    await store.close();
  });

  it('refuses a stale update and writes none of its audit events', async () => {
    const { store } = await dialect.fresh();
    await store.createRequest(request, [ev('RequestCreated')]);
    await store.updateRequest({ ...request, message: 'first' }, [ev('First')]);
    await expect(store.updateRequest({ ...request, message: 'stale' }, [ev('Stale')])).rejects.toThrow(
      StaleWrite,
    );
    expect((await store.getRequest('ar-1'))?.message).toBe('first');
    expect((await store.listAudit()).map((e) => e.action)).toEqual(['RequestCreated', 'First']);
    await store.close();
  });

  it('saves several requests in one transaction, skipping a stale one whole', async () => {
    const { store } = await dialect.fresh();
    const other: AccessRequest = { ...request, id: 'ar-2' };
    await store.createRequest(request, [ev('RequestCreated')]);
    await store.createRequest(other, [{ ...ev('RequestCreated'), requestId: 'ar-2' }]);
    await store.updateRequest({ ...other, message: 'first' }, [{ ...ev('First'), requestId: 'ar-2' }]);
    const saved = await store.updateRequests([
      { request: { ...request, message: 'saved' }, events: [ev('Saved'), ev('SavedToo')] },
      { request: { ...other, message: 'stale' }, events: [{ ...ev('Stale'), requestId: 'ar-2' }] },
    ]);
    expect(saved.map((r) => r && { id: r.id, version: r.version })).toEqual([
      { id: 'ar-1', version: request.version + 1 },
      null,
    ]);
    expect((await store.getRequest('ar-1'))?.message).toBe('saved');
    expect((await store.getRequest('ar-2'))?.message).toBe('first');
    expect((await store.listAudit()).map((e) => e.action)).toEqual([
      'RequestCreated',
      'RequestCreated',
      'First',
      'Saved',
      'SavedToo',
    ]);
    expect(await store.verifyAuditChain()).toBeNull();
    await store.close();
  });

  it('chains audit events so an edit is detected', async () => {
    const { store, tamper } = await dialect.fresh();
    await store.createRequest(request, [ev('RequestCreated'), ev('RequestApproved')]);
    await store.appendAudit([ev('BindingRestored')]);
    expect(await store.verifyAuditChain()).toBeNull();
    const events = await store.listAudit();
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(events[1]?.prevHash).toBe(events[0]?.hash);
    await store.close();

    const reopened = await tamper("update audit_events set actor = 'mallory' where seq = 2");
    expect(await reopened.verifyAuditChain()).toBe(2);
    await reopened.close();
  });

  it('finds the requests changed after an audit seq, whatever their timestamps say', async () => {
    const { store } = await dialect.fresh();
    const other = { ...request, id: 'ar-2' };
    await store.createRequest(request, [ev('RequestCreated')]);
    await store.createRequest(other, [{ ...ev('RequestCreated'), requestId: 'ar-2' }]);
    const cursor = (await store.auditHead())?.seq ?? 0;
    expect(await store.listRequests({ changedAfterSeq: cursor })).toEqual([]);
    // Saved with a timestamp a day old, as a server with a slow clock would.
    await store.updateRequest({ ...request, updatedAt: new Date(t0.getTime() - 86_400_000) }, [
      ev('Touched'),
    ]);
    expect((await store.listRequests({ changedAfterSeq: cursor })).map((r) => r.id)).toEqual(['ar-1']);
    expect((await store.listRequests({ changedAfterSeq: 0 })).map((r) => r.id)).toEqual(['ar-1', 'ar-2']);
    await store.close();
  });

  it('keeps the chain intact under concurrent writers', async () => {
    const { store } = await dialect.fresh();
    await Promise.all(
      Array.from({ length: 25 }, (_, i) => store.appendAudit([ev(`Concurrent${i}`), ev(`Concurrent${i}b`)])),
    );
    const events = await store.listAudit();
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(await store.verifyAuditChain()).toBeNull();
    await store.close();
  });
});

describe("the PostgreSQL store's audit chain lock", () => {
  /** Another server in the middle of appending: its event at seq 1 is written but not yet committed. */
  async function writerInTheMiddle(url: string, { takesTheLock }: { takesTheLock: boolean }) {
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    await other.query('begin');
    // The store's own lock key (postgres-store.ts), as the other server's store would take it.
    if (takesTheLock) await other.query('select pg_advisory_xact_lock(7304811)');
    await other.query(
      `insert into audit_events (seq, time, actor, action, details_json, prev_hash, hash)
       values (1, $1, 'bob', 'Theirs', '{}', $2, $3)`,
      [t0.toISOString(), '0'.repeat(64), 'f'.repeat(64)],
    );
    return {
      async commit() {
        await other.query('commit');
        await other.end();
      },
    };
  }

  /** Waits until some session of the database waits for a lock of this kind (pg_stat_activity). */
  async function someoneWaitsFor(url: string, waitEvent: string): Promise<void> {
    const watcher = new pg.Client({ connectionString: url });
    await watcher.connect();
    try {
      await waitFor(async () => {
        const { rows } = await watcher.query(
          `select 1 from pg_stat_activity
           where datname = current_database() and wait_event_type = 'Lock' and wait_event = $1`,
          [waitEvent],
        );
        return rows.length > 0;
      });
    } finally {
      await watcher.end();
    }
  }

  it('is what keeps concurrent writers apart: without it both take the same seq and one fails', async () => {
    const url = await createDatabase(inject('postgresUrl'), 'nolock');
    await (await openPostgresStore(url)).close(); // creates the tables
    const unlocked = createKyselyStore(
      new Kysely<Database>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }),
      }),
    );
    const other = await writerInTheMiddle(url, { takesTheLock: false });
    const mine = unlocked.appendAudit([ev('Mine')]).then(
      () => null,
      (e: Error) => e,
    );
    // It read the chain's head before the other commit and now waits on the same seq's index entry.
    await someoneWaitsFor(url, 'transactionid');
    await other.commit();
    expect((await mine)?.message).toMatch(/duplicate key/);
    await unlocked.close();
  });

  it('runs work under one key on one server at a time, however many stores share the database', async () => {
    const url = await createDatabase(inject('postgresUrl'), 'reqlock');
    const [a, b] = [await openPostgresStore(url), await openPostgresStore(url)];
    const order: string[] = [];
    let releaseA: () => void = () => {};
    const first = a.lockAcrossServers('ar-1', async () => {
      order.push('a starts');
      await new Promise<void>((resolve) => (releaseA = resolve));
      order.push('a ends');
    });
    await waitFor(() => order.length === 1);
    const second = b.lockAcrossServers('ar-1', async () => void order.push('b runs'));
    // Another key is not held up.
    await b.lockAcrossServers('ar-2', async () => void order.push('b runs ar-2'));
    await someoneWaitsFor(url, 'advisory');
    releaseA();
    await Promise.all([first, second]);
    expect(order).toEqual(['a starts', 'b runs ar-2', 'a ends', 'b runs']);
    await a.close();
    await b.close();
  });

  it('with it, the second writer waits for the first to commit and extends the chain after it', async () => {
    const url = await createDatabase(inject('postgresUrl'), 'lock');
    const store = await openPostgresStore(url);
    const other = await writerInTheMiddle(url, { takesTheLock: true });
    const mine = store.appendAudit([ev('Mine')]);
    await someoneWaitsFor(url, 'advisory');
    await other.commit();
    await mine;
    const events = await store.listAudit();
    expect(events.map((e) => [e.seq, e.action])).toEqual([
      [1, 'Theirs'],
      [2, 'Mine'],
    ]);
    expect(events[1]?.prevHash).toBe('f'.repeat(64));
    await store.close();
  });
});

describe.each(dialects)('the $name store: API tokens and TOTP enrolments', (dialect) => {
  const token = {
    name: 'ci-bot',
    digest: 'a'.repeat(64),
    groups: ['ci'],
    createdAt: t0,
    createdBy: 'root',
    expiresAt: new Date('2026-04-01T00:00:00Z'),
    lastUsedAt: null,
    revokedAt: null,
    revokedBy: null,
  };
  const tokenEvent = (action: string) => ({ ...ev(action), requestId: null, cluster: null });

  it('keeps a token by digest, never reuses a name, audits its first use once and its revocation', async () => {
    const { store } = await dialect.fresh();
    await store.createApiToken(token, [tokenEvent('ApiTokenCreated')]);
    expect(await store.findApiTokenByDigest(token.digest)).toEqual(token);
    expect(await store.findApiTokenByDigest('b'.repeat(64))).toBeNull();
    await expect(store.createApiToken({ ...token, digest: 'c'.repeat(64) }, [])).rejects.toThrow(
      /exists or existed/,
    );

    // Two servers seeing the first use at once: one records it with its event, the other writes nothing.
    const used = new Date('2026-01-02T00:00:00Z');
    await Promise.all([
      store.recordApiTokenUse('ci-bot', used, [tokenEvent('ApiTokenFirstUsed')]),
      store.recordApiTokenUse('ci-bot', used, [tokenEvent('ApiTokenFirstUsed')]),
    ]);
    const later = new Date('2026-01-03T00:00:00Z');
    await store.recordApiTokenUse('ci-bot', later, []);
    expect((await store.findApiTokenByDigest(token.digest))?.lastUsedAt).toEqual(later);

    const revokedAt = new Date('2026-01-04T00:00:00Z');
    const revoked = await store.revokeApiToken('ci-bot', 'root', revokedAt, [tokenEvent('ApiTokenRevoked')]);
    expect(revoked).toMatchObject({ revokedAt, revokedBy: 'root' });
    // Revoking again changes nothing and writes no event.
    expect(await store.revokeApiToken('ci-bot', 'bob', later, [tokenEvent('ApiTokenRevoked')])).toMatchObject(
      {
        revokedAt,
        revokedBy: 'root',
      },
    );
    expect(await store.revokeApiToken('nobody', 'root', later, [])).toBeNull();
    expect((await store.listApiTokens()).map((t) => t.name)).toEqual(['ci-bot']);
    expect((await store.listAudit()).map((e) => e.action)).toEqual([
      'ApiTokenCreated',
      'ApiTokenFirstUsed',
      'ApiTokenRevoked',
    ]);
    expect(await store.verifyAuditChain()).toBeNull();
  });

  it('saves an enrolment at its version, refuses a stale save, and forgets it', async () => {
    const { store } = await dialect.fresh();
    const enrolment = {
      user: 'bob',
      sealedSecret: 'v1:iv:tag:ciphertext',
      createdAt: t0,
      confirmedAt: null,
      lastStep: null,
      failures: 0,
      lockedUntil: null,
      version: 0,
    };
    const saved = await store.saveMfaEnrolment(enrolment, [tokenEvent('MfaEnrolled')]);
    expect(saved.version).toBe(1);
    await expect(store.saveMfaEnrolment(enrolment, [])).rejects.toThrow(StaleWrite);
    const confirmed = await store.saveMfaEnrolment(
      { ...saved, confirmedAt: t0, lastStep: 59_000_000, failures: 2, lockedUntil: t0 },
      [tokenEvent('MfaConfirmed')],
    );
    expect(await store.getMfaEnrolment('bob')).toEqual(confirmed);
    await expect(store.saveMfaEnrolment(saved, [])).rejects.toThrow(StaleWrite);
    expect(await store.deleteMfaEnrolment('bob', [tokenEvent('MfaReset')])).toBe(true);
    expect(await store.deleteMfaEnrolment('bob', [tokenEvent('MfaReset')])).toBe(false);
    expect(await store.getMfaEnrolment('bob')).toBeNull();
    expect((await store.listAudit()).map((e) => e.action)).toEqual([
      'MfaEnrolled',
      'MfaConfirmed',
      'MfaReset',
    ]);
  });
});
