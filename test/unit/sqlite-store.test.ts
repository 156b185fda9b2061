import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store.js';
import type { AccessRequest } from '../../src/domain/access-request.js';
import { StaleWrite } from '../../src/domain/errors.js';
import { accessRequest } from '../support/fixtures.js';

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

async function freshStore() {
  const path = join(mkdtempSync(join(tmpdir(), 'elevate-store-')), 'elevate.db');
  return { path, store: await openSqliteStore(path) };
}

describe('sqlite store', () => {
  it('round-trips a request with its dates', async () => {
    const { store } = await freshStore();
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
    expect(await store.listRequests({ phases: ['Approved'] })).toHaveLength(1);
    expect(await store.listRequests({ phases: ['Active'] })).toHaveLength(0);
    expect(await store.listRequests({ requester: 'bob' })).toHaveLength(0);
    await store.close();
  });

  it('refuses a stale update and writes none of its audit events', async () => {
    const { store } = await freshStore();
    await store.createRequest(request, [ev('RequestCreated')]);
    await store.updateRequest({ ...request, version: 2, message: 'first' }, [ev('First')]);
    await expect(
      store.updateRequest({ ...request, version: 2, message: 'stale' }, [ev('Stale')]),
    ).rejects.toThrow(StaleWrite);
    expect((await store.getRequest('ar-1'))?.message).toBe('first');
    expect((await store.listAudit()).map((e) => e.action)).toEqual(['RequestCreated', 'First']);
    await store.close();
  });

  it('chains audit events so an edit is detected', async () => {
    const { path, store } = await freshStore();
    await store.createRequest(request, [ev('RequestCreated'), ev('RequestApproved')]);
    await store.appendAudit([ev('BindingRestored')]);
    expect(await store.verifyAuditChain()).toBeNull();
    const events = await store.listAudit();
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(events[1]?.prevHash).toBe(events[0]?.hash);
    await store.close();

    const raw = new SqliteDatabase(path);
    raw.prepare("update audit_events set actor = 'mallory' where seq = 2").run();
    raw.close();
    const reopened = await openSqliteStore(path);
    expect(await reopened.verifyAuditChain()).toBe(2);
    await reopened.close();
  });
});
