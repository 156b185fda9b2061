import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { openPostgresStore } from '../../src/adapters/store/postgres-store.js';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store.js';
import type { AccessRequest } from '../../src/domain/access-request.js';
import { StaleWrite } from '../../src/domain/errors.js';
import type { Store } from '../../src/services/ports.js';
import { accessRequest } from '../support/fixtures.js';
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
  spec: { role: 'view', namespace: null, reason: 'why', ticket: 'INC-1' },
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
        bindings: [{ kind: 'ClusterRoleBinding', name: 'b', namespace: null }],
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
