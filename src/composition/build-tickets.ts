import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { type Config, ConfigError } from '../config/load-config.js';
import type { AccessRequest } from '../domain/access-request.js';
import type { Clock } from '../domain/clock.js';
import { createPeriodicLoop, type LeaderLoop } from '../jobs/periodic-loop.js';
import type { GrantService } from '../services/grant-service.js';
import type { KeyedLock } from '../services/keyed-lock.js';
import type { Store } from '../services/ports.js';
import { createTicketCallbacks } from '../services/ticket-callback.js';
import type { TicketCheck } from '../services/ticket-check.js';
import { createTicketRevalidation } from '../services/ticket-revalidation.js';

export interface TicketParts {
  config: Config;
  store: Store;
  check: TicketCheck;
  grants: GrantService;
  withLock: KeyedLock;
  clock: Clock;
  logger: Logger;
  onChange: (request: AccessRequest) => void;
}

/** Each provider's callback secret, read at start; a missing or empty file fails the start naming the field. */
async function readCallbackSecrets(config: Config): Promise<Map<string, Buffer>> {
  const secrets = new Map<string, Buffer>();
  for (const [i, p] of config.tickets.providers.entries()) {
    if (!p.callbackSecretFile) continue;
    const field = `${config.file}: tickets.providers[${i}].callbackSecretFile`;
    const text = await readFile(p.callbackSecretFile, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new ConfigError(`${field}: cannot read ${p.callbackSecretFile}: ${e.code ?? e.message}`);
    });
    const secret = text.replace(/\r?\n$/, '');
    // A short shared secret can be guessed offline from one captured callback.
    if (secret.length < 16) throw new ConfigError(`${field}: the secret must be at least 16 characters`);
    secrets.set(p.name, Buffer.from(secret));
  }
  return secrets;
}

/**
 * Tickets while access lasts: the re-check of every Active grant's ticket (a leader loop every
 * tickets.recheckInterval) and the signed callbacks that make it happen at once for one ticket.
 */
export async function buildTickets(parts: TicketParts) {
  const { config, store, clock, logger } = parts;
  const revalidation = createTicketRevalidation({
    store,
    check: parts.check,
    grants: parts.grants,
    withLock: parts.withLock,
    clock,
    onChange: parts.onChange,
    onError: (request, err) =>
      logger.warn({ request, err: err.message }, 'could not end the grant now; will retry'),
  });
  const callbacks = createTicketCallbacks({
    secrets: await readCallbackSecrets(config),
    store,
    revalidation,
    clock,
  });
  const newLoop = (): LeaderLoop =>
    createPeriodicLoop({
      everyMs: config.tickets.recheckIntervalMs,
      run: async () => {
        const report = await revalidation.recheckAll();
        if (report.revoked.length > 0) logger.info(report, 'tickets re-checked: grants ended');
      },
      onError: (err) => logger.warn({ err: err.message }, 'ticket re-check failed; will retry'),
    });
  return { revalidation, callbacks, newLoop, hasProviders: config.tickets.providers.length > 0 };
}
