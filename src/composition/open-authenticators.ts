import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { createApiTokenAuthenticator } from '../adapters/auth/api-token-authenticator.js';
import { chainAuthenticators } from '../adapters/auth/authenticator-chain.js';
import { createOidcAuthenticator } from '../adapters/auth/oidc-authenticator.js';
import { createOidcKeys } from '../adapters/auth/oidc-keys.js';
import { createTokenFileAuthenticator } from '../adapters/auth/token-file-authenticator.js';
import { createTokenReviewAuthenticator } from '../adapters/auth/token-review-authenticator.js';
import { loadClusterClients } from '../adapters/kube/kube-clients.js';
import { type Config, ConfigError } from '../config/load-config.js';
import { systemClock } from '../domain/clock.js';
import type { IdentitySource } from '../domain/identity.js';
import { createApiTokenIdentifier } from '../services/api-token-service.js';
import type { Authenticator, Store } from '../services/ports.js';

/**
 * The sources of identities the config turns on, asked in this order: the token file and API tokens
 * (opaque strings Elevate knows by digest), then OIDC ID tokens (JWTs from auth.oidc.issuer), then
 * ServiceAccount tokens (any other JWT, asked of the cluster's TokenReview). A file a source reads that is
 * missing or malformed fails the start, naming the field.
 */
export function openAuthenticators(
  config: Config,
  logger: Logger,
  /** Where API tokens are looked up (every use reads it, so a revocation anywhere counts at once). */
  store: Pick<Store, 'findApiTokenByDigest' | 'recordApiTokenUse'>,
): Authenticator {
  const sources: Authenticator[] = [];
  const tokenFile = config.auth.tokenFile;
  if (tokenFile) {
    sources.push(
      inConfig(config, 'auth.tokenFile', () =>
        createTokenFileAuthenticator(tokenFile, (e) =>
          logger.error({ err: e.message }, 'token file reload failed; keeping the previous tokens'),
        ),
      ),
    );
  }
  sources.push(createApiTokenAuthenticator(createApiTokenIdentifier({ store, clock: systemClock })));
  const oidc = config.auth.oidc;
  if (oidc) {
    const caFile = oidc.caFile;
    const ca = caFile ? inConfig(config, 'auth.oidc.caFile', () => readCertificates(caFile)) : null;
    // An unreachable issuer does not stop the start: its tokens wait for the keys, other sources work.
    const keys = createOidcKeys({ issuer: oidc.issuer, ca, log: logger });
    void keys.start();
    sources.push({ ...createOidcAuthenticator(oidc, keys), stop: () => keys.stop() });
  }
  // Last: TokenReview is asked about any JWT no earlier source claimed.
  const kubernetes = config.auth.kubernetes;
  if (kubernetes) {
    const cluster = config.clusters.find((c) => c.name === kubernetes.cluster);
    const clients = inConfig(config, 'auth.kubernetes.cluster', () =>
      loadClusterClients(cluster ? [cluster] : []),
    );
    const authn = clients.get(kubernetes.cluster)?.authn;
    if (!authn)
      throw new ConfigError(`${config.file}: auth.kubernetes.cluster: no cluster ${kubernetes.cluster}`);
    sources.push(
      createTokenReviewAuthenticator(authn, {
        cluster: kubernetes.cluster,
        audiences: kubernetes.audiences,
        cacheForMs: kubernetes.cacheForMs,
        onFailure: (message) => logger.error({ cluster: kubernetes.cluster }, message),
      }),
    );
  }
  return chainAuthenticators(sources);
}

/** The kinds of identity the config turns on, in the order they are asked (GET /api/v1/auth/config). */
export function authSourceKinds(config: Config): IdentitySource['kind'][] {
  return [
    ...(config.auth.tokenFile ? (['token-file'] as const) : []),
    'api-token',
    ...(config.auth.oidc ? (['oidc'] as const) : []),
    ...(config.auth.kubernetes ? (['kubernetes'] as const) : []),
  ];
}

/**
 * A PEM bundle that holds at least one certificate. Checked at start: a broken file would otherwise only
 * show later as an issuer that cannot be reached.
 */
function readCertificates(file: string): Buffer {
  const pem = readFileSync(file);
  try {
    new X509Certificate(pem);
  } catch {
    throw new Error(`${file} holds no PEM certificate`);
  }
  return pem;
}

/** Runs a step that reads a file the config names; a failure names the config file and field. */
export function inConfig<T>(config: Config, field: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    throw new ConfigError(`${config.file}: ${field}: ${(e as Error).message}`);
  }
}
