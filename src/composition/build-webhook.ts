import type { Logger } from 'pino';
import type { Config } from '../config/load-config.js';
import type { Clock } from '../domain/clock.js';
import type { ClusterGateway, Store } from '../services/ports.js';
import { createWebhookAuthorizer } from '../services/webhook-authorizer.js';
import { loadClusterTokens } from './cluster-tokens.js';

/** How often every server reads the live webhook grants again (other servers' changes, edited roles). */
const refreshEveryMs = 1_000;

/**
 * The authorization webhook (grant: webhook): the tokens clusters' API servers ask with, and the in-memory
 * authorizer every server keeps (not only the leader: each API server may reach any replica).
 */
export async function buildWebhook(parts: {
  config: Config;
  store: Store;
  clusters: Pick<ClusterGateway, 'roleRules'>;
  clock: Clock;
  logger: Logger;
}) {
  const { config, logger } = parts;
  const checkToken = await loadClusterTokens(
    config,
    (c) => c.authorizationTokenFile,
    'authorization.tokenFile',
  );
  const authorizer = createWebhookAuthorizer({
    store: parts.store,
    clusters: parts.clusters,
    clock: parts.clock,
    onError: (err) => logger.warn({ err: err.message }, 'webhook grants: could not read a role; will retry'),
  });
  const asking = config.clusters.some((c) => c.authorizationTokenFile !== null);
  let timer: NodeJS.Timeout | undefined;
  const refresh = () =>
    authorizer
      .refresh()
      .catch((err: Error) => logger.warn({ err: err.message }, 'webhook grants: refresh failed'));
  return {
    authorizer,
    checkToken,
    /** The gateway with every role read noted by the authorizer (see noteRules). */
    observing<G extends Pick<ClusterGateway, 'roleRules'>>(gateway: G): G {
      return {
        ...gateway,
        async roleRules(cluster, roleKind, role, namespace) {
          const found = await gateway.roleRules(cluster, roleKind, role, namespace);
          authorizer.noteRules(cluster, { cluster, roleKind, role, namespace }, found);
          return found;
        },
      };
    },
    /** Only when some cluster asks: the first read before the API listens, then every second. */
    async start(): Promise<void> {
      if (!asking) return;
      await refresh();
      const loop = () => {
        timer = setTimeout(() => void refresh().finally(loop), refreshEveryMs);
      };
      loop();
    },
    stop(): void {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
