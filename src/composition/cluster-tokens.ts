import { createHash, timingSafeEqual } from 'node:crypto';
import { readSecretFile } from '../adapters/secret-file.js';
import { type Config, ConfigError } from '../config/load-config.js';
import type { ClusterTokenCheck } from '../http/cluster-token-check.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * The bearer tokens clusters' API servers send Elevate (their audit webhook, their authorization webhook),
 * one file per cluster, read once at start: a missing or empty file fails the start naming the cluster.
 * Only digests are kept, compared in constant time: the token's length and content stay unknown.
 */
export async function loadClusterTokens(
  config: Config,
  fileOf: (cluster: Config['clusters'][number]) => string | null,
  field: string,
): Promise<ClusterTokenCheck> {
  const tokens = new Map<string, Buffer>();
  for (const [i, cluster] of config.clusters.entries()) {
    const file = fileOf(cluster);
    if (!file) continue;
    try {
      tokens.set(cluster.name, digest(await readSecretFile(file, field)));
    } catch (e) {
      throw new ConfigError(`${config.file}: clusters[${i}] (${cluster.name}).${(e as Error).message}`);
    }
  }
  return (cluster, authorization) => {
    const expected = tokens.get(cluster);
    const match = /^Bearer (.+)$/.exec(authorization ?? '');
    return expected !== undefined && match?.[1] !== undefined && timingSafeEqual(digest(match[1]), expected);
  };
}
