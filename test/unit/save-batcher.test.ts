import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store.js';
import type { AccessRequest } from '../../src/domain/access-request.js';
import { StaleWrite } from '../../src/domain/errors.js';
import type { RequestChange, Store } from '../../src/services/ports.js';
import { createSaveBatcher } from '../../src/services/save-batcher.js';
import { accessRequest } from '../support/fixtures.js';

const t0 = new Date('2026-01-01T00:00:00Z');
const ended = (r: AccessRequest): AccessRequest => ({ ...r, phase: 'Expired', message: 'access expired' });
const expiredEvent = (r: AccessRequest) => ({
  time: t0,
  actor: 'system:elevate',
  action: 'GrantExpired',
  requestId: r.id,
  cluster: 'dev',
  details: {},
});

/** A real SQLite store holding `count` active requests, whose updateRequests calls are recorded. */
async function world(count: number) {
  const store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), 'elevate-batch-')), 'e.db'));
  const requests = Array.from({ length: count }, (_, i) =>
    accessRequest({ id: `ar-${i}`, at: t0, phase: 'Active', target: { role: 'view', namespace: 'team' } }),
  );
  for (const r of requests) await store.createRequest(r, []);
  const transactions: string[][] = [];
  const recording: Pick<Store, 'updateRequests'> = {
    updateRequests(changes: RequestChange[]) {
      transactions.push(changes.map((c) => c.request.id));
      return store.updateRequests(changes);
    },
  };
  return { store, requests, transactions, save: createSaveBatcher(recording) };
}

describe('saving ended grants together', () => {
  it('saves asked for in the same turn share one transaction; each caller gets its own request back', async () => {
    const { store, requests, transactions, save } = await world(3);
    const saved = await Promise.all(requests.map((r) => save(ended(r), [expiredEvent(r)])));
    expect(transactions).toEqual([['ar-0', 'ar-1', 'ar-2']]);
    expect(saved.map((r) => [r.id, r.phase])).toEqual([
      ['ar-0', 'Expired'],
      ['ar-1', 'Expired'],
      ['ar-2', 'Expired'],
    ]);
    expect(saved.map((r, i) => r.version - (requests[i]?.version ?? 0))).toEqual([1, 1, 1]);
    expect((await store.listAudit()).map((e) => e.requestId)).toEqual(['ar-0', 'ar-1', 'ar-2']);
    expect(await store.verifyAuditChain()).toBeNull();
  });

  it('a save asked for after a transaction was started goes in the next one', async () => {
    const { requests, transactions, save } = await world(2);
    const [a, b] = requests as [AccessRequest, AccessRequest];
    await save(ended(a), [expiredEvent(a)]);
    await save(ended(b), [expiredEvent(b)]);
    expect(transactions).toEqual([['ar-0'], ['ar-1']]);
  });

  it('a stale save fails alone with StaleWrite, writing nothing; the others are saved', async () => {
    const { store, requests, save } = await world(3);
    const [a, b, c] = requests as [AccessRequest, AccessRequest, AccessRequest];
    await store.updateRequest({ ...b, message: 'changed meanwhile' }, [expiredEvent(b)]);
    const outcomes = await Promise.allSettled([
      save(ended(a), [expiredEvent(a)]),
      save(ended(b), [expiredEvent(b)]),
      save(ended(c), [expiredEvent(c)]),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(StaleWrite);
    expect((await store.getRequest('ar-1'))?.phase).toBe('Active');
    expect((await store.listAudit()).map((e) => e.requestId)).toEqual(['ar-1', 'ar-0', 'ar-2']);
  });

  it('a failing store fails every save of that transaction, and none is written', async () => {
    const { store, requests, save } = await world(2);
    await store.close();
    const outcomes = await Promise.allSettled(requests.map((r) => save(ended(r), [expiredEvent(r)])));
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
  });

  it('a burst larger than one transaction takes is split, in the order asked', async () => {
    const { requests, transactions, save } = await world(130);
    await Promise.all(requests.map((r) => save(ended(r), [expiredEvent(r)])));
    expect(transactions.map((t) => t.length)).toEqual([64, 64, 2]);
    expect(transactions.flat()).toEqual(requests.map((r) => r.id));
  });
});
