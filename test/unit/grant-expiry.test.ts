import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store.js';
import type { AccessRequest, BindingRef } from '../../src/domain/access-request.js';
import { Unavailable } from '../../src/domain/errors.js';
import { createGrantService } from '../../src/services/grant-service.js';
import { createKeyedLock } from '../../src/services/keyed-lock.js';
import { accessRequest } from '../support/fixtures.js';

const t0 = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

function activeGrant(id: string): AccessRequest {
  const ref: BindingRef = { cluster: 'dev', kind: 'RoleBinding', name: `elevate-${id}`, namespace: 'team' };
  return accessRequest({
    id,
    at: t0,
    phase: 'Active',
    target: { role: 'view', namespace: 'team' },
    grant: { bindings: [ref], activatedAt: t0, expiresAt: at(60_000) },
  });
}

/**
 * Grants in a real SQLite store, past their expiry by the test's clock; the cluster is a stand-in that
 * records each DELETE and fails the ones the test asks it to, as an unreachable API server would.
 */
async function world(ids: string[]) {
  const store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), 'elevate-expiry-')), 'e.db'));
  for (const id of ids) await store.createRequest(activeGrant(id), []);
  const deleted: string[] = [];
  let unreachable = false;
  const grants = createGrantService({
    store,
    clusters: {
      deleteBinding: async (_cluster, ref) => {
        if (unreachable) throw new Unavailable('cluster dev: delete timed out');
        deleted.push(ref.name);
        return 'deleted';
      },
      applyBinding: async () => {
        throw new Error('nothing is written at expiry');
      },
      namespaceExists: async () => true,
      roleRules: async () => [],
      applyServiceAccount: async () => {
        throw new Error('nothing is written at expiry');
      },
      deleteServiceAccount: async () => 'absent',
    },
    policySource: { current: () => ({}) as never },
    clock: { now: () => at(60_001) },
    withLock: createKeyedLock(),
  });
  return { store, grants, deleted, setUnreachable: (u: boolean) => (unreachable = u) };
}

describe('expiring grants', () => {
  it('several expiring at once are each deleted, then recorded Expired with their own audit event', async () => {
    const w = await world(['ar-a', 'ar-b', 'ar-c']);
    const settled = await Promise.all(['ar-a', 'ar-b', 'ar-c'].map((id) => w.grants.settle(id)));
    expect(settled.map((r) => r.phase)).toEqual(['Expired', 'Expired', 'Expired']);
    expect(w.deleted.sort()).toEqual(['elevate-ar-a', 'elevate-ar-b', 'elevate-ar-c']);
    const events = await w.store.listAudit();
    expect(events.map((e) => [e.action, e.requestId]).sort()).toEqual([
      ['GrantExpired', 'ar-a'],
      ['GrantExpired', 'ar-b'],
      ['GrantExpired', 'ar-c'],
    ]);
    expect(await w.store.verifyAuditChain()).toBeNull();
    // The drift watch may take the deletions it hears of as Elevate's own, without reading them back.
    expect(['ar-a', 'ar-b', 'ar-c', 'ar-other'].map((id) => w.grants.isRemoving(id))).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });

  it('one whose DELETE fails stays Active and unaudited; a retry ends it', async () => {
    const w = await world(['ar-a']);
    w.setUnreachable(true);
    await expect(w.grants.settle('ar-a')).rejects.toThrow(Unavailable);
    expect((await w.store.getRequest('ar-a'))?.phase).toBe('Active');
    expect(await w.store.listAudit()).toEqual([]);
    w.setUnreachable(false);
    expect((await w.grants.settle('ar-a')).phase).toBe('Expired');
    expect((await w.store.listAudit()).map((e) => e.action)).toEqual(['GrantExpired']);
  });
});
