import type { Logger } from 'pino';
import type { Config } from '../config/load-config.js';
import type { AccessRequest } from '../domain/access-request.js';
import type { Clock } from '../domain/clock.js';
import type { Identity } from '../domain/identity.js';
import { createPeriodicLoop, type LeaderLoop } from '../jobs/periodic-loop.js';
import { createBreakglassModeService } from '../services/breakglass-mode-service.js';
import { createBreakglassService } from '../services/breakglass-service.js';
import type { MfaVerifier } from '../services/mfa-service.js';
import type { ClusterDirectory, ClusterGateway, PolicySource, Store } from '../services/ports.js';
import { createReviewService } from '../services/review-service.js';

export interface BreakglassParts {
  config: Config;
  store: Store;
  clusters: ClusterGateway;
  directory: ClusterDirectory;
  policySource: PolicySource;
  mfa: MfaVerifier;
  clock: Clock;
  logger: Logger;
  isAdmin: (who: Identity) => boolean;
  settle: (request: AccessRequest) => Promise<AccessRequest>;
}

/** How often the leader looks for a mode past its end and reviews past their deadline (two small reads). */
const watchEveryMs = 1_000;

/**
 * Emergency access: pulling the glass, ticket-system-down mode and post-incident reviews, with the leader
 * loop that records the mode's end and announces overdue reviews (ReviewOverdue reaches breakglass.notify
 * through the outbox).
 */
export function buildBreakglass(parts: BreakglassParts) {
  const { config, store, clock, logger } = parts;
  const breakglass = createBreakglassService({
    config: config.breakglass,
    store,
    clusters: parts.clusters,
    policySource: parts.policySource,
    directory: parts.directory,
    mfa: parts.mfa,
    clock,
    settle: parts.settle,
  });
  const mode = createBreakglassModeService({ store, isAdmin: parts.isAdmin, clock });
  const reviews = createReviewService({
    store,
    reviewers: config.breakglass?.reviewers ?? { users: [], groups: [] },
    isAdmin: parts.isAdmin,
    clock,
  });
  const newLoop = (): LeaderLoop =>
    createPeriodicLoop({
      everyMs: watchEveryMs,
      run: async () => {
        if (await mode.expireIfDue())
          logger.warn('ticket-system-down mode ended: tickets are required again');
        const overdue = await reviews.announceOverdue();
        if (overdue > 0) logger.warn({ overdue }, 'post-incident reviews are overdue');
      },
      onError: (err) => logger.warn({ err: err.message }, 'break-glass watch failed; will retry'),
    });
  return { breakglass, mode, reviews, newLoop };
}
