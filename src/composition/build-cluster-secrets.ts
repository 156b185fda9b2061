import type { Logger } from 'pino';
import {
  type ClusterSecret,
  isRefused,
  type RefusedSecret,
  watchClusterSecrets,
} from '../adapters/kube/cluster-secrets.js';
import type { KubeClusterGateway } from '../adapters/kube/kube-cluster-gateway.js';
import type { Config } from '../config/load-config.js';
import { createPeriodicLoop, type LeaderLoop } from '../jobs/periodic-loop.js';
import type { ClusterDirectoryHolder } from '../services/cluster-directory.js';
import type { createClusterRetirement } from '../services/cluster-retirement.js';
import type { ManagedCluster } from '../services/ports.js';

/** How often the leader looks again for live grants on removed clusters (a new leader looks at once). */
const sweepEveryMs = 30_000;

export interface ClusterSecretsParts {
  config: Config;
  gateway: Pick<KubeClusterGateway, 'connect' | 'retire'>;
  directory: ClusterDirectoryHolder;
  retirement: ReturnType<typeof createClusterRetirement>;
  /** Only the leader writes the audit trail of a change and revokes a removed cluster's grants. */
  isLeader: () => boolean;
  logger: Logger;
}

/**
 * Clusters from Secrets (home.clusterSecrets): each server keeps its directory and connections in line with
 * the labelled Secrets; the leader records each change, and its loop revokes the grants of removed clusters
 * (at once, again every 30 s, and first thing in a new leader's term, so neither a failed revocation nor a
 * change of leader leaves one behind). Null when the config does not ask for it.
 */
export function buildClusterSecrets({
  config,
  gateway,
  directory,
  retirement,
  isLeader,
  logger,
}: ClusterSecretsParts) {
  const home = config.home;
  const homeCluster = config.clusters.find((c) => c.name === home?.cluster);
  if (!home?.clusterSecrets || !homeCluster) return null;
  /** The connection each discovered cluster was opened with, so an unchanged one is not opened again. */
  const digests = new Map<string, string>();
  /** The refusals already logged, so a Secret that stays unusable is not logged at every change. */
  let refusedBefore = new Set<string>();
  /** Clusters removed while this server ran (their connections kept): where grants may still need revoking. */
  const retired = new Map<string, ManagedCluster>();
  let sweeper: LeaderLoop | null = null;

  function noteRefused(refused: RefusedSecret[]): void {
    const now = new Set(refused.map((r) => `${r.secret}: ${r.reason}`));
    for (const r of refused) {
      if (!refusedBefore.has(`${r.secret}: ${r.reason}`)) {
        logger.warn({ secret: r.secret, reason: r.reason }, 'cluster Secret ignored');
      }
    }
    refusedBefore = now;
  }

  function apply(secrets: (ClusterSecret | RefusedSecret)[]): void {
    noteRefused(secrets.filter(isRefused));
    const found = secrets.filter((s): s is ClusterSecret => !isRefused(s));
    // Two Secrets naming one cluster: neither is trusted over the other, so the first by Secret name holds.
    const byName = new Map<string, ClusterSecret>();
    for (const s of found.sort((a, b) => a.cluster.source.localeCompare(b.cluster.source))) {
      if (byName.has(s.cluster.name)) {
        logger.warn(
          { secret: s.cluster.source, cluster: s.cluster.name },
          'cluster Secret ignored: name taken',
        );
      } else byName.set(s.cluster.name, s);
    }
    const fromFile = new Set(config.clusters.map((c) => c.name));
    const reconnected = new Set<string>();
    for (const [name, s] of byName) {
      if (fromFile.has(name) || digests.get(name) === s.digest) continue;
      gateway.connect(name, s.kubeconfig);
      digests.set(name, s.digest);
      reconnected.add(name);
    }
    const clusters = [...byName.values()].map((s) => s.cluster);
    const { change, shadowed } = directory.replaceDiscovered(clusters, reconnected);
    for (const c of shadowed) {
      logger.warn(
        { secret: c.source, cluster: c.name },
        'cluster Secret ignored: the config file has that cluster',
      );
    }
    for (const c of change.removed) {
      gateway.retire(c.name);
      digests.delete(c.name);
      retired.set(c.name, c);
    }
    for (const c of change.added) retired.delete(c.name);
    for (const c of change.added) logger.info({ cluster: c.name, secret: c.source }, 'cluster added');
    for (const c of change.updated) logger.info({ cluster: c.name, secret: c.source }, 'cluster updated');
    for (const c of change.removed) logger.warn({ cluster: c.name, secret: c.source }, 'cluster removed');
    if (isLeader()) void record(change);
  }

  async function record(change: ReturnType<ClusterDirectoryHolder['replaceDiscovered']>['change']) {
    try {
      for (const c of change.added) await retirement.record('ClusterAdded', c);
      for (const c of change.updated) await retirement.record('ClusterUpdated', c);
      for (const c of change.removed) await retirement.record('ClusterRemoved', c);
    } catch (e) {
      logger.error({ err: (e as Error).message }, 'could not record a cluster change');
    }
    if (change.removed.length > 0) sweeper?.poke();
  }

  /** One leader term's loop revoking grants on removed clusters. */
  const newSweeper = (): LeaderLoop => {
    sweeper = createPeriodicLoop({
      everyMs: sweepEveryMs,
      run: async () => {
        for (const c of retired.values()) {
          const revoked = await retirement.retire(c);
          if (revoked.length > 0)
            logger.warn({ cluster: c.name, revoked }, 'grants on a removed cluster revoked');
        }
      },
      onError: (e) =>
        logger.warn({ err: e.message }, 'revoking grants on a removed cluster failed; will retry'),
    });
    return sweeper;
  };

  const watch = watchClusterSecrets(homeCluster, home.namespace, {
    onChange: apply,
    onError: (err) => logger.warn({ err: err.message }, 'watching cluster Secrets failed; retrying'),
  });
  return { listed: watch.listed, stop: watch.stop, newLoop: newSweeper };
}
