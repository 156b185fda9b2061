import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store.js';
import type { NotificationRule } from '../../src/config/notification-schema.js';
import type { AccessRequest } from '../../src/domain/access-request.js';
import type { AuditEvent } from '../../src/domain/audit-event.js';
import { kindOf } from '../../src/domain/notification.js';
import { createExpiryWarnings } from '../../src/services/expiry-warnings.js';
import { createAddressBook, plan } from '../../src/services/notifications.js';
import { accessRequest } from '../support/fixtures.js';

const t0 = new Date('2026-11-22T10:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

async function storeWith(requests: AccessRequest[]) {
  const store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), 'elevate-notify-')), 'e.db'));
  for (const r of requests)
    await store.createRequest(r, [
      {
        time: t0,
        actor: r.spec.requester,
        action: 'RequestCreated',
        requestId: r.id,
        cluster: 'dev',
        details: {},
      },
    ]);
  return store;
}

const event = (
  action: string,
  requestId: string | null,
  details: Record<string, unknown> = {},
  actor = 'bob',
): AuditEvent => ({
  seq: 7,
  hash: 'a'.repeat(64),
  prevHash: '0'.repeat(64),
  time: t0,
  actor,
  action,
  requestId,
  cluster: 'dev',
  details,
});

const rule = (r: Partial<NotificationRule>): NotificationRule => ({
  events: ['request.pending'],
  channel: 'mail',
  ...r,
});

describe('which events make notices', () => {
  it('maps audit actions to kinds; auto-approvals and refusals other than the guardrails make none', () => {
    expect(kindOf(event('RequestCreated', 'ar-1', { decision: 'approval' }))?.kind).toBe('request.pending');
    expect(kindOf(event('RequestCreated', 'ar-1', { decision: 'auto' }))).toBeNull();
    expect(kindOf(event('RequestApproved', 'ar-1', {}, 'system:elevate'))).toBeNull();
    expect(kindOf(event('RequestApproved', 'ar-1'))?.kind).toBe('request.decided');
    expect(kindOf(event('GrantRevoked', 'ar-1'))?.kind).toBe('grant.ended');
    expect(kindOf(event('BreakGlassActivated', 'ar-1'))).toEqual({
      kind: 'breakglass',
      severity: 'critical',
    });
    expect(kindOf(event('RequestRefused', 'ar-1', { decision: { refusal: { kind: 'guardrail' } } }))).toEqual(
      {
        kind: 'escalation.refused',
        severity: 'high',
      },
    );
    expect(
      kindOf(event('RequestRefused', 'ar-1', { decision: { refusal: { kind: 'no-match' } } })),
    ).toBeNull();
    expect(kindOf(event('ApprovalRecorded', 'ar-1'))).toBeNull();
  });
});

describe('who a notice goes to', () => {
  const pending = accessRequest({
    id: 'ar-1',
    at: t0,
    policy: { approvers: { users: ['zed'], groups: ['sre-leads'] } },
  });

  it('approvers by name and by group as last seen signing in, never the requester; addresses from the book or the name', async () => {
    const store = await storeWith([pending]);
    for (const [user, groups] of [
      ['bob@example.com', ['sre-leads']],
      ['carol', ['sre-leads', 'devs']],
      ['dave', ['devs']],
      ['alice', ['sre-leads']],
    ] as const)
      await store.recordIdentitySeen({
        user,
        groups: [...groups],
        source: { kind: 'token-file' },
        seenAt: t0,
      });
    const planned = await plan(
      event('RequestCreated', 'ar-1', { decision: 'approval' }, 'alice'),
      [rule({})],
      {
        store,
        addresses: createAddressBook({ carol: 'carol@corp.example' }),
      },
    );
    expect(planned?.to.people).toEqual([
      { user: 'zed', address: null },
      { user: 'bob@example.com', address: 'bob@example.com' },
      { user: 'carol', address: 'carol@corp.example' },
    ]);
    expect(planned?.notice.approvable).toBe(true);
  });

  it('filters by cluster, policy and severity; rules for the same channel are merged', async () => {
    const store = await storeWith([pending]);
    const deps = { store, addresses: createAddressBook({}) };
    const ended = event('GrantExpired', 'ar-1');
    const rules = [
      rule({ events: ['grant.ended'], clusters: ['prod-*'], to: ['ops@example.com'] }),
      rule({ events: ['grant.ended'], policies: ['p'], to: ['audit@example.com'] }),
      rule({ events: ['grant.ended'], minSeverity: 'high', to: ['sec@example.com'] }),
      rule({ events: ['grant.ended'] }),
    ];
    const planned = await plan(ended, rules, deps);
    expect(planned?.to).toEqual({
      people: [{ user: 'alice', address: null }],
      destinations: ['audit@example.com'],
    });
    expect(await plan(ended, [rules[0] as NotificationRule], deps)).toBeNull();
  });

  it('a pending notice delivered after the request was decided asks nobody', async () => {
    const store = await storeWith([{ ...pending, phase: 'Denied' }]);
    expect(
      await plan(event('RequestCreated', 'ar-1', { decision: 'approval' }), [rule({})], {
        store,
        addresses: createAddressBook({}),
      }),
    ).toBeNull();
  });
});

describe('expiry warnings', () => {
  const active = (id: string, activatedAt: Date, expiresAt: Date): AccessRequest =>
    accessRequest({ id, at: t0, phase: 'Active', grant: { bindings: [], activatedAt, expiresAt } });

  it('once per grant and expiry, again after an extension, never for a grant no longer than the lead', async () => {
    const store = await storeWith([
      active('ar-long', t0, at(30 * 60_000)),
      active('ar-short', at(25 * 60_000), at(30 * 60_000)),
    ]);
    let now = at(19 * 60_000);
    const warnings = () => createExpiryWarnings({ store, clock: { now: () => now }, leadMs: 10 * 60_000 });
    const first = warnings();
    expect(await first.warnDue()).toBe(0);
    now = at(21 * 60_000);
    expect(await first.warnDue()).toBe(1);
    expect(await first.warnDue()).toBe(0);
    // Another leader, or a restart: the trail says it was done.
    expect(await warnings().warnDue()).toBe(0);
    const trail = (await store.listAuditForRequest('ar-long')).filter(
      (e) => e.action === 'GrantExpiringSoon',
    );
    expect(trail.map((e) => e.details)).toEqual([{ expiresAt: at(30 * 60_000).toISOString(), in: '9m' }]);
    // Extended by 30 minutes: warned again before the new end.
    const r = (await store.getRequest('ar-long')) as AccessRequest;
    await store.updateRequest(
      { ...r, grant: { bindings: [], activatedAt: t0, expiresAt: at(60 * 60_000) } },
      [],
    );
    now = at(51 * 60_000);
    expect(await first.warnDue()).toBe(1);
    expect(await store.listAuditForRequest('ar-short')).toHaveLength(1);
  });
});
