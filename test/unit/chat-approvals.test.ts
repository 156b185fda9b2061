import { describe, expect, it } from 'vitest';
import type { AccessRequest } from '../../src/domain/access-request.js';
import { Forbidden } from '../../src/domain/errors.js';
import type { Identity } from '../../src/domain/identity.js';
import { createChatApprovals } from '../../src/services/chat-approvals.js';
import { createAddressBook } from '../../src/services/notifications.js';
import type { KnownIdentity } from '../../src/services/ports.js';
import { accessRequest } from '../support/fixtures.js';

const now = new Date('2026-11-22T10:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000);

/** The chat approvals over a request service that records what it was asked and refuses as the domain does. */
function world(request: AccessRequest, known: KnownIdentity[]) {
  const calls: [string, string, string | undefined][] = [];
  const approvals = createChatApprovals({
    requests: {
      get: async () => request,
      approve: async (who: Identity, _id, _comment, _otp, via) => {
        if (who.user === request.spec.requester)
          throw new Forbidden('a requester cannot approve or deny their own request');
        calls.push(['approve', who.user, via]);
        return { ...request, phase: 'Approved' };
      },
      deny: async (who: Identity, _id, _comment, via) => {
        calls.push(['deny', who.user, via]);
        return { ...request, phase: 'Denied' };
      },
    },
    people: { lookup: async (user) => known.find((k) => k.user === user) ?? null },
    addresses: createAddressBook({ bob: 'bob@example.com', alice: 'alice@example.com' }),
    clock: { now: () => now },
  });
  const decide = (address: string | null, decision: 'approve' | 'deny' = 'approve') =>
    approvals.decide({ address, requestId: request.id, decision, via: 'slack' });
  return { calls, decide };
}

const seen = (user: string, at = daysAgo(1)): KnownIdentity => ({
  user,
  groups: ['sre-leads'],
  source: { kind: 'token-file' },
  seenAt: at,
});

describe('deciding from chat', () => {
  it('maps the clicker by e-mail (the address book, else the e-mail as the name) and records via', async () => {
    const w = world(accessRequest({ id: 'ar-1' }), [seen('bob'), seen('carol@example.com')]);
    expect(await w.decide('BOB@example.com')).toMatchObject({ done: true, by: 'bob' });
    expect(await w.decide('carol@example.com', 'deny')).toMatchObject({
      done: true,
      by: 'carol@example.com',
    });
    expect(w.calls).toEqual([
      ['approve', 'bob', 'slack'],
      ['deny', 'carol@example.com', 'slack'],
    ]);
  });

  it('refuses, saying what to do instead: no e-mail, never signed in, signed in too long ago, step-up, a comment, the requester', async () => {
    const plain = world(accessRequest({ id: 'ar-1' }), [seen('bob', daysAgo(8)), seen('alice')]);
    expect(await plain.decide(null)).toEqual({
      done: false,
      message: expect.stringMatching(/no e-mail address/),
    });
    expect(await plain.decide('eve@example.com')).toEqual({
      done: false,
      message: expect.stringMatching(/not known to Elevate/),
    });
    expect(await plain.decide('bob@example.com')).toEqual({
      done: false,
      message: expect.stringMatching(/over 7 days/),
    });
    expect(await plain.decide('alice@example.com')).toEqual({
      done: false,
      message: expect.stringMatching(/requester cannot approve/),
    });
    const mfa = world(accessRequest({ id: 'ar-2', policy: { approvalRequiresMfa: true } }), [seen('bob')]);
    expect(await mfa.decide('bob@example.com')).toEqual({
      done: false,
      message: 'this approval needs your one-time code: run elevate approve ar-2 --otp CODE',
    });
    const comment = world(accessRequest({ id: 'ar-3', policy: { requireComment: true } }), [seen('bob')]);
    expect(await comment.decide('bob@example.com', 'deny')).toEqual({
      done: false,
      message: expect.stringMatching(/asks for a comment: run elevate deny ar-3 --comment/),
    });
    expect([...plain.calls, ...mfa.calls, ...comment.calls]).toEqual([]);
  });
});
