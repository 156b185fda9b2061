import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { createKubeClusterGateway } from '../adapters/kube/kube-cluster-gateway.js';
import { createMetrics, observeAuditWrites } from '../adapters/metrics/prometheus-metrics.js';
import { openStore } from '../adapters/store/open-store.js';
import { type Config, ConfigError } from '../config/load-config.js';
import { inConfig, openAuthenticators } from './open-authenticators.js';

export type Adapters = Awaited<ReturnType<typeof openAdapters>>;

/**
 * Builds what talks to the outside world. Outside files come first where they can, so a bad TLS file or
 * kubeconfig fails the start before anything (the database) is created; the authenticators need the store
 * (API tokens), so theirs are read after it.
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
  const opened = await openStore(config.storage).catch((e: Error) => {
    throw new ConfigError(
      `${config.file}: storage: cannot open the ${config.storage.kind} store: ${e.message}`,
    );
  });
  const metrics = createMetrics(opened);
  const store = observeAuditWrites(opened, metrics.observeAudit);
  // After the store: API tokens are looked up in it. A bad token file still fails the start (with the store
  // closed again), only after the database file was created.
  const authenticator = await Promise.resolve()
    .then(() => openAuthenticators(config, logger, store))
    .catch(async (e: Error) => {
      await store.close();
      throw e;
    });
  return { authenticator, tls, clusters, metrics, store };
}
