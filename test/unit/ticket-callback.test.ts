import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Conflict, Unauthenticated } from '../../src/domain/errors.js';
import { createTicketCallbacks, signCallback } from '../../src/services/ticket-callback.js';

const secret = 'a-long-shared-callback-secret';
const now = new Date('2026-05-06T10:00:00Z');
const ts = String(now.getTime() / 1000);

function harness() {
  const seen = new Set<string>();
  const audited: { action: string; details: Record<string, unknown> }[] = [];
  const rechecked: [string, string][] = [];
  const callbacks = createTicketCallbacks({
    secrets: new Map([['snow', Buffer.from(secret)]]),
    clock: { now: () => now },
    store: {
      async rememberCallback(provider, digest) {
        const key = `${provider}/${digest}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      },
      async appendAudit(events) {
        audited.push(...events);
      },
    },
    revalidation: {
      async recheckTicket(provider, ticket) {
        rechecked.push([provider, ticket]);
        return { checked: 1, revoked: [], unavailable: [] };
      },
    },
  });
  return { callbacks, audited, rechecked };
}

const body = '{"provider":"snow","ticket":"INC1"}';
const call = (over: Partial<Parameters<ReturnType<typeof harness>['callbacks']['receive']>[0]> = {}) => ({
  provider: 'snow',
  ticket: 'INC1',
  timestamp: ts,
  signature: signCallback(secret, ts, body),
  rawBody: body,
  ...over,
});

describe('signed ticket callbacks', () => {
  it('signs HMAC-SHA256 over "<timestamp>.<raw body>" as sha256=<hex>, what `openssl dgst -hmac` gives', () => {
    const expected = createHmac('sha256', 'key').update('1700000000.{}').digest('hex');
    expect(signCallback('key', '1700000000', '{}')).toBe(`sha256=${expected}`);
    expect(signCallback('key', '1700000001', '{}')).not.toBe(`sha256=${expected}`);
  });

  it('a good signature re-checks the ticket', async () => {
    const h = harness();
    expect(await h.callbacks.receive(call())).toEqual({ checked: 1, revoked: [], unavailable: [] });
    expect(h.rechecked).toEqual([['snow', 'INC1']]);
  });

  it.each([
    ['a wrong secret', { signature: signCallback('another-secret-entirely', ts, body) }, 'bad signature'],
    ['a body changed after signing', { rawBody: '{"provider":"snow","ticket":"INC2"}' }, 'bad signature'],
    ['no signature', { signature: undefined }, 'unsigned'],
    ['no timestamp', { timestamp: undefined }, 'unsigned'],
    ['a provider without a secret', { provider: 'jira' }, 'unknown provider or no callback secret'],
  ])('refuses %s (401, audited) and checks nothing', async (_what, over, why) => {
    const h = harness();
    await expect(h.callbacks.receive(call(over))).rejects.toBeInstanceOf(Unauthenticated);
    expect(h.rechecked).toEqual([]);
    expect(h.audited).toEqual([
      expect.objectContaining({ action: 'TicketCallbackRefused', details: expect.objectContaining({ why }) }),
    ]);
  });

  it('refuses a timestamp more than 5 minutes away, either way', async () => {
    for (const offset of [-301, 301]) {
      const h = harness();
      const t = String(Number(ts) + offset);
      await expect(
        h.callbacks.receive(call({ timestamp: t, signature: signCallback(secret, t, body) })),
      ).rejects.toThrow(/more than 5 minutes/);
    }
  });

  it('refuses the same signed call twice (409)', async () => {
    const h = harness();
    await h.callbacks.receive(call());
    await expect(h.callbacks.receive(call())).rejects.toBeInstanceOf(Conflict);
    expect(h.rechecked).toHaveLength(1);
  });

  it('audits a flood of refusals once a minute per provider and reason', async () => {
    const h = harness();
    for (let i = 0; i < 5; i++) await h.callbacks.receive(call({ signature: 'sha256=00' })).catch(() => {});
    expect(h.audited).toHaveLength(1);
  });
});
