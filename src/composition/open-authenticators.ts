import type { Logger } from 'pino';
import { chainAuthenticators } from '../adapters/auth/authenticator-chain.js';
import { createTokenFileAuthenticator } from '../adapters/auth/token-file-authenticator.js';
import { type Config, ConfigError } from '../config/load-config.js';
import type { Authenticator } from '../services/ports.js';

/**
 * The sources of identities the config turns on, asked in this order: the token file and API tokens
 * (opaque strings Elevate knows by digest), then OIDC ID tokens (JWTs from auth.oidc.issuer), then
 * ServiceAccount tokens (any other JWT, asked of the cluster's TokenReview). A file a source reads that is
 * missing or malformed fails the start, naming the field.
 */
export function openAuthenticators(config: Config, logger: Logger): Authenticator {
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
  return chainAuthenticators(sources);
}

/** Runs a step that reads a file the config names; a failure names the config file and field. */
export function inConfig<T>(config: Config, field: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    throw new ConfigError(`${config.file}: ${field}: ${(e as Error).message}`);
  }
}
