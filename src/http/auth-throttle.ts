import type { FastifyInstance } from 'fastify';
import { problemBody } from './problem-handler.js';

export interface AuthThrottleOptions {
  /** Failed authentications (401s) one address may have per window. */
  maxFailures: number;
  windowMs: number;
}

// Addresses remembered at once: a flood from many addresses costs bounded memory, at worst forgetting the
// oldest entries early.
const maxAddresses = 10_000;

/**
 * Slows down token guessing: once an address has had maxFailures 401s within a window, every API request
 * from it is answered 429 with Retry-After until the window ends — a valid token too, or the throttle would
 * still tell a guesser which guess was right. Only 401s count, so a client with a valid token never throttles
 * itself, and other addresses are unaffected. (@fastify/rate-limit counts every request; it cannot count
 * failures only.)
 */
export function throttleFailedAuth(api: FastifyInstance, opts: AuthThrottleOptions): void {
  const windows = new Map<string, { failures: number; endsAt: number }>();

  const forget = (now: number) => {
    for (const [address, w] of windows) if (w.endsAt <= now) windows.delete(address);
    // Still full: drop the oldest (a Map iterates in insertion order).
    while (windows.size >= maxAddresses) windows.delete(windows.keys().next().value as string);
  };

  api.addHook('onRequest', async (req, reply) => {
    const now = performance.now();
    const w = windows.get(req.ip);
    if (!w || w.endsAt <= now || w.failures < opts.maxFailures) return;
    const seconds = Math.max(1, Math.ceil((w.endsAt - now) / 1000));
    return reply
      .code(429)
      .header('retry-after', String(seconds))
      .type('application/problem+json')
      .send(problemBody(429, `too many failed authentications from this address; try again in ${seconds}s`));
  });

  api.addHook('onResponse', async (req, reply) => {
    if (reply.statusCode !== 401) return;
    const now = performance.now();
    let w = windows.get(req.ip);
    if (!w || w.endsAt <= now) {
      if (!w && windows.size >= maxAddresses) forget(now);
      w = { failures: 0, endsAt: now + opts.windowMs };
      windows.set(req.ip, w);
    }
    w.failures += 1;
  });
}
