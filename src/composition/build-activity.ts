import { createHash, timingSafeEqual } from 'node:crypto';
import { readSecretFile } from '../adapters/secret-file.js';
import { type Config, ConfigError } from '../config/load-config.js';
import type { Clock } from '../domain/clock.js';
import type { ClusterTokenCheck } from '../http/routes/activity-routes.js';
import { createActivityCapture } from '../services/activity-capture.js';
import type { Store } from '../services/ports.js';
import type { Adapters } from './open-adapters.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

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
  const tokens = new Map<string, Buffer>();
  for (const [i, cluster] of config.clusters.entries()) {
    if (!cluster.activityTokenFile) continue;
    try {
      tokens.set(cluster.name, digest(await readSecretFile(cluster.activityTokenFile, 'activity.tokenFile')));
    } catch (e) {
      throw new ConfigError(`${config.file}: clusters[${i}] (${cluster.name}).${(e as Error).message}`);
    }
  }
  // Digests of equal length compared in constant time: the token's length and content stay unknown.
  const checkToken: ClusterTokenCheck = (cluster, authorization) => {
    const expected = tokens.get(cluster);
    const match = /^Bearer (.+)$/.exec(authorization ?? '');
    return expected !== undefined && match?.[1] !== undefined && timingSafeEqual(digest(match[1]), expected);
  };
  const capture = createActivityCapture({
    store,
    clock,
    onIngested: (cluster, attributed, dropped) => metrics.activityIngested(cluster, attributed, dropped),
  });
  return { capture, checkToken };
}
