import { afterEach, describe, expect, it } from 'vitest';
import {
  createWebhookNotifier,
  webhookConsumerName,
  webhookPayload,
} from '../../src/adapters/notify/webhook-notifier.js';
import type { AuditEvent } from '../../src/domain/audit-event.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

const event = (
  action: string,
  details: Record<string, unknown>,
  more: Partial<AuditEvent> = {},
): AuditEvent => ({
  seq: 42,
  hash: 'abc',
  prevHash: 'abb',
  time: new Date('2026-03-01T12:00:00Z'),
  actor: 'alice',
  action,
  requestId: 'req-7',
  cluster: 'prod',
  details,
  ...more,
});

const receivers: Awaited<ReturnType<typeof startWebhookReceiver>>[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});
async function receiver() {
  const r = await startWebhookReceiver();
  receivers.push(r);
  return r;
}

describe('webhook payload', () => {
  it('carries the audit event with its seq and hash, a severity and one human line', () => {
    const payload = webhookPayload(
      event('BreakGlassActivated', {
        severity: 'high',
        targets: [{ cluster: 'prod', role: 'admin', namespace: 'shop' }],
        duration: '30m',
        reason: 'INC-9 checkout down',
      }),
    );
    expect(payload).toEqual({
      type: 'BreakGlassActivated',
      severity: 'high',
      time: '2026-03-01T12:00:00.000Z',
      actor: 'alice',
      requestId: 'req-7',
      cluster: 'prod',
      details: expect.objectContaining({ reason: 'INC-9 checkout down' }),
      seq: 42,
      hash: 'abc',
      text: '[elevate] BREAK-GLASS: alice took emergency access to prod/admin/shop for 30m (request req-7): INC-9 checkout down',
    });
  });

  it.each([
    [
      event(
        'BreakGlassModeOn',
        { until: '2026-03-01T14:00:00Z', reason: 'region outage' },
        { cluster: null, requestId: null },
      ),
      'high',
      '[elevate] BREAK-GLASS MODE ON by alice until 2026-03-01T14:00:00Z: region outage',
    ],
    [
      event('BreakGlassModeOff', { by: 'system:elevate', reason: 'expired' }, { actor: 'system:elevate' }),
      'info',
      '[elevate] Break-glass mode off (expired by system:elevate)',
    ],
    [
      event('ReviewOverdue', { review: 'rev-3', user: 'bob', dueAt: '2026-03-04T12:00:00Z' }),
      'warning',
      '[elevate] Post-incident review rev-3 of bob is overdue (due 2026-03-04T12:00:00Z) (request req-7)',
    ],
    [
      event('TicketInvalidated', { provider: 'snow', ticket: 'CHG0001', reason: 'closed' }),
      'warning',
      '[elevate] Ticket CHG0001 no longer valid in snow on prod (request req-7): closed',
    ],
  ])('says what happened: %#', (e, severity, text) => {
    expect(webhookPayload(e)).toMatchObject({ type: e.action, severity, text });
  });

  it('names its cursor by a hash of the URL, never the URL (its path may be the secret)', () => {
    const name = webhookConsumerName('https://hooks.slack.com/services/T1/B2/very-secret');
    expect(name).toMatch(/^webhook:[0-9a-f]{16}$/);
    expect(name).toBe(webhookConsumerName('https://hooks.slack.com/services/T1/B2/very-secret'));
    expect(name).not.toBe(webhookConsumerName('https://hooks.slack.com/services/T1/B2/other'));
  });
});

describe('webhook notifier', () => {
  it('wants the break-glass and ticket events only', () => {
    const notifier = createWebhookNotifier('http://127.0.0.1:1/hook');
    expect(notifier.startAt).toBe('head');
    const wanted = [
      'BreakGlassActivated',
      'BreakGlassModeOn',
      'BreakGlassModeOff',
      'ReviewOverdue',
      'TicketInvalidated',
    ];
    for (const action of wanted) expect(notifier.wants(event(action, {}))).toBe(true);
    for (const action of ['RequestCreated', 'GrantActivated', 'TicketValidated'])
      expect(notifier.wants(event(action, {}))).toBe(false);
  });

  it('throws for an answer other than 2xx, 4xx included, naming the host but not the path', async () => {
    const hook = await receiver();
    const notifier = createWebhookNotifier(`${hook.url}/services/secret-path`);
    hook.failNext(1, 404);
    const refused = notifier.deliver([event('BreakGlassModeOn', {})]);
    await expect(refused).rejects.toThrow(`${hook.url} answered 404 (check the URL)`);
    await expect(refused).rejects.not.toThrow(/secret-path/);
    hook.failNext(1, 429);
    await expect(notifier.deliver([event('BreakGlassModeOn', {})])).rejects.toThrow(/answered 429$/);
    await notifier.deliver([event('BreakGlassModeOn', {})]);
    expect(hook.received).toHaveLength(1);
  });

  it('gives up on a receiver that does not answer in time, or is down, for the relay to retry', async () => {
    const hook = await receiver();
    hook.slow(1_000);
    const notifier = createWebhookNotifier(hook.url, { timeoutMs: 100 });
    await expect(notifier.deliver([event('BreakGlassModeOn', {})])).rejects.toThrow(/timeout|abort/i);
    await hook.down();
    await expect(notifier.deliver([event('BreakGlassModeOn', {})])).rejects.toThrow(/ECONNREFUSED/);
  });
});
