import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { createKubeClusterGateway } from '../adapters/kube/kube-cluster-gateway.js';
import { createMetrics, observeAuditWrites } from '../adapters/metrics/prometheus-metrics.js';
import { openStore } from '../adapters/store/open-store.js';
import { type Config, ConfigError } from '../config/load-config.js';
import type { Store } from '../services/ports.js';
import { inConfig, openAuthenticators } from './open-authenticators.js';

export type Adapters = Awaited<ReturnType<typeof openAdapters>>;

/**
 * Builds what talks to the outside world. Everything read from outside files comes first, so a bad token
 * file, CA file, TLS file or kubeconfig fails the start before anything (the database) is created.
 */
export async function openAdapters(config: Config, logger: Logger) {
  const tlsFiles = config.tls;
  const tls = tlsFiles
    ? inConfig(config, 'tls', () => ({
        cert: readFileSync(tlsFiles.certFile),
        key: readFileSync(tlsFiles.keyFile),
      }))
    : null;
  const clusters = inConfig(config, 'clusters', () => createKubeClusterGateway(config.clusters));
  // Before the store, so a bad token file or CA file creates no database; API tokens are looked up in the
  // store, which exists before the first request can arrive.
  let store: Store | undefined;
  const whenOpen = (): Store => {
    if (!store) throw new Error('the store is not open yet');
    return store;
  };
  const authenticator = openAuthenticators(config, logger, {
    findApiTokenByDigest: (digest) => whenOpen().findApiTokenByDigest(digest),
    recordApiTokenUse: (name, at, events) => whenOpen().recordApiTokenUse(name, at, events),
  });
  const opened = await openStore(config.storage).catch((e: Error) => {
    authenticator.stop?.();
    throw new ConfigError(
      `${config.file}: storage: cannot open the ${config.storage.kind} store: ${e.message}`,
    );
  });
  const metrics = createMetrics(opened);
  store = observeAuditWrites(opened, metrics.observeAudit);
  return { authenticator, tls, clusters, metrics, store };
}
