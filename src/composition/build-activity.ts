import type { Config } from '../config/load-config.js';
import type { Clock } from '../domain/clock.js';
import { createActivityCapture } from '../services/activity-capture.js';
import type { Store } from '../services/ports.js';
import { loadClusterTokens } from './cluster-tokens.js';
import type { Adapters } from './open-adapters.js';

/**
 * Activity capture: the token each cluster's API server sends (read once at start; a missing or empty file
 * fails the start naming the cluster), and the capture service the ingest route feeds.
 */
export async function buildActivity({
  config,
  store,
  metrics,
  clock,
}: {
  config: Config;
  store: Store;
  metrics: Adapters['metrics'];
  clock: Clock;
}) {
  const checkToken = await loadClusterTokens(config, (c) => c.activityTokenFile, 'activity.tokenFile');
  const capture = createActivityCapture({
    store,
    clock,
    onIngested: (cluster, attributed, dropped) => metrics.activityIngested(cluster, attributed, dropped),
  });
  return { capture, checkToken };
}
