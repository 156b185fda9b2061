import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { createTokenFileAuthenticator } from '../adapters/auth/token-file-authenticator.js';
import { createKubeClusterGateway } from '../adapters/kube/kube-cluster-gateway.js';
import { createMetrics, observeAuditWrites } from '../adapters/metrics/prometheus-metrics.js';
import { openStore } from '../adapters/store/open-store.js';
import { type Config, ConfigError } from '../config/load-config.js';

/** Runs a step that reads a file the config names; a failure names the config file and field. */
function inConfig<T>(config: Config, field: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    throw new ConfigError(`${config.file}: ${field}: ${(e as Error).message}`);
  }
}

export type Adapters = Awaited<ReturnType<typeof openAdapters>>;

/**
 * Builds what talks to the outside world. Everything read from outside files comes first, so a bad token
 * file, TLS file or kubeconfig fails the start before anything (the database) is created.
 */
export async function openAdapters(config: Config, logger: Logger) {
  const authenticator = inConfig(config, 'auth.tokenFile', () =>
    createTokenFileAuthenticator(config.auth.tokenFile, (e) =>
      logger.error({ err: e.message }, 'token file reload failed; keeping the previous tokens'),
    ),
  );
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
  return { authenticator, tls, clusters, metrics, store };
}
