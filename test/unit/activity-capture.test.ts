import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store.js';
import type { AccessRequest } from '../../src/domain/access-request.js';
import { createActivityCapture } from '../../src/services/activity-capture.js';
import { accessRequest } from '../support/fixtures.js';

const t0 = new Date('2026-11-22T10:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

function grant(id: string, user: string, phase: AccessRequest['phase'], updatedAt: Date): AccessRequest {
  const r = accessRequest({
    id,
    at: t0,
    phase,
    target: { role: 'edit', namespace: 'payments' },
    grant: {
      bindings: [{ cluster: 'dev', kind: 'RoleBinding', name: `elevate-${id}`, namespace: 'payments' }],
      activatedAt: t0,
      expiresAt: at(3_600_000),
    },
  });
  return { ...r, updatedAt, spec: { ...r.spec, requester: user } };
}

const event = (auditID: string, user: string, time: Date) => ({
  auditID,
  stage: 'ResponseComplete',
  verb: 'get',
  user: { username: user },
  objectRef: { resource: 'pods', namespace: 'payments' },
  responseStatus: { code: 200 },
  requestReceivedTimestamp: time.toISOString(),
});

/** The capture over a real SQLite store; the clock stands a minute after `t0` unless moved. */
async function world(requests: AccessRequest[]) {
  const store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), 'elevate-activity-')), 'e.db'));
  for (const r of requests)
    await store.createRequest(r, [
      {
        time: r.updatedAt,
        actor: 'alice',
        action: 'RequestCreated',
        requestId: r.id,
        cluster: 'dev',
        details: {},
      },
    ]);
  let now = at(60_000);
  const capture = createActivityCapture({ store, clock: { now: () => now } });
  return { store, capture, setNow: (d: Date) => (now = d) };
}

describe('activity capture', () => {
  it('at start, also takes late batches for grants that ended moments ago, not for long-ended ones', async () => {
    const w = await world([
      grant('ar-recent', 'alice', 'Expired', at(30_000)),
      grant('ar-old', 'bob', 'Expired', new Date(t0.getTime() - 3_600_000)),
    ]);
    const result = await w.capture.ingest('dev', [
      event('e1', 'alice', at(10_000)),
      event('e2', 'bob', at(10_000)),
    ]);
    expect(result).toEqual({ received: 2, attributed: 1, recorded: 1 });
    expect((await w.store.listActivity('ar-recent', 10)).map((a) => a.auditId)).toEqual(['e1']);
  });

  it('knows a grant activated after its first batch, and records a batch sent twice once', async () => {
    const w = await world([]);
    expect((await w.capture.ingest('dev', [event('e1', 'carol', at(10_000))])).attributed).toBe(0);
    const carol = grant('ar-carol', 'carol', 'Active', t0);
    await w.store.createRequest(carol, [
      {
        time: t0,
        actor: 'carol',
        action: 'GrantActivated',
        requestId: carol.id,
        cluster: 'dev',
        details: {},
      },
    ]);
    const batch = [event('e2', 'carol', at(20_000)), event('e3', 'carol', at(21_000))];
    expect(await w.capture.ingest('dev', batch)).toEqual({ received: 2, attributed: 2, recorded: 2 });
    expect(await w.capture.ingest('dev', batch)).toEqual({ received: 2, attributed: 2, recorded: 0 });
    expect(await w.store.countActivity('ar-carol')).toBe(2);
    const audit = (await w.store.listAuditForRequest('ar-carol')).filter((e) => e.action === 'GrantActivity');
    expect(audit.map((e) => e.details.count)).toEqual([2]);
  });
});
