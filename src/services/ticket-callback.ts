import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { systemActor } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import { Conflict, Unauthenticated } from '../domain/errors.js';
import type { Store } from './ports.js';
import type { RecheckReport, TicketRevalidation } from './ticket-revalidation.js';

/** How far a callback's timestamp may be from now: older ones are refused, so a replay guard this long suffices. */
export const callbackToleranceMs = 5 * 60_000;

/** One answer for every signature problem, so a caller learns nothing about which providers exist. */
const badSignature = 'the callback is not signed with this provider’s callback secret';

export interface TicketCallbackDeps {
  /** callbackSecretFile's content per provider; a provider without one takes no callbacks. */
  secrets: ReadonlyMap<string, Buffer>;
  store: Pick<Store, 'rememberCallback' | 'appendAudit'>;
  revalidation: Pick<TicketRevalidation, 'recheckTicket'>;
  clock: Clock;
}

export interface SignedCallback {
  provider: string;
  ticket: string;
  /** X-Elevate-Timestamp: unix seconds, as sent. */
  timestamp: string | undefined;
  /** X-Elevate-Signature: `sha256=<hex>`. */
  signature: string | undefined;
  /** The body exactly as received: what was signed. */
  rawBody: string;
}

/** HMAC-SHA256 over `<timestamp>.<raw body>`, hex: what a ticket system sends as `sha256=<hex>`. */
export function signCallback(secret: Buffer | string, timestamp: string, rawBody: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex')}`;
}

/**
 * A ticket system telling Elevate that a ticket changed: the signature proves which system sent it, the
 * timestamp bounds how long a captured call could be replayed, and the signature is remembered for that
 * long so it can be used only once. The call carries no verdict: the ticket is looked up again, so a
 * callback can only make Elevate check sooner, never grant or keep access.
 */
export function createTicketCallbacks(deps: TicketCallbackDeps) {
  // Refusals are audited at most once a minute per provider and reason: a flood must not flood the trail.
  const lastAudited = new Map<string, number>();

  async function refuse(provider: string, why: string, error: Error): Promise<never> {
    const now = deps.clock.now();
    const key = `${provider}\u0000${why}`;
    if ((lastAudited.get(key) ?? 0) + 60_000 <= now.getTime()) {
      lastAudited.set(key, now.getTime());
      await deps.store.appendAudit([
        {
          time: now,
          actor: systemActor,
          action: 'TicketCallbackRefused',
          requestId: null,
          cluster: null,
          details: { provider, why },
        },
      ]);
    }
    throw error;
  }

  return {
    async receive(call: SignedCallback): Promise<RecheckReport> {
      const secret = deps.secrets.get(call.provider);
      if (!secret)
        return refuse(
          call.provider,
          'unknown provider or no callback secret',
          new Unauthenticated(badSignature),
        );
      if (!call.signature || !call.timestamp || !/^\d{1,12}$/.test(call.timestamp)) {
        return refuse(call.provider, 'unsigned', new Unauthenticated(badSignature));
      }
      const expected = Buffer.from(signCallback(secret, call.timestamp, call.rawBody));
      const given = Buffer.from(call.signature);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return refuse(call.provider, 'bad signature', new Unauthenticated(badSignature));
      }
      const now = deps.clock.now();
      const sentAt = Number(call.timestamp) * 1000;
      if (Math.abs(now.getTime() - sentAt) > callbackToleranceMs) {
        return refuse(
          call.provider,
          'stale timestamp',
          new Unauthenticated('the callback’s timestamp is more than 5 minutes from now; sign it afresh'),
        );
      }
      const digest = createHash('sha256').update(call.signature).digest('hex');
      const forgetBefore = new Date(now.getTime() - 2 * callbackToleranceMs);
      if (!(await deps.store.rememberCallback(call.provider, digest, now, forgetBefore))) {
        return refuse(
          call.provider,
          'replayed',
          new Conflict('this callback was received before (a replay)'),
        );
      }
      return deps.revalidation.recheckTicket(call.provider, call.ticket);
    },
  };
}

export type TicketCallbacks = ReturnType<typeof createTicketCallbacks>;
