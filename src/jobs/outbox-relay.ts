import type { OutboxRelay } from '../services/outbox.js';
import { createPeriodicLoop, type LeaderLoop } from './periodic-loop.js';

/**
 * The one relay loop, run by the lease holder only: a pass every `everyMs` (for audit events other servers
 * committed) and at once when poked (for this server's own). Stopping waits for deliveries under way, so
 * a new leadership term never overlaps this one's cursor writes on this server.
 */
export function createOutboxRelayLoop(
  relay: OutboxRelay,
  { everyMs = 1_000, onError }: { everyMs?: number; onError: (error: Error) => void },
): LeaderLoop {
  const loop = createPeriodicLoop({ everyMs, run: () => relay.pass(), onError });
  return {
    start: () => loop.start(),
    poke: () => loop.poke(),
    async stop() {
      await loop.stop();
      await relay.stop();
    },
  };
}
