import { loadSecretBox, type SecretBox, SecretKeyError } from '../adapters/crypto/secret-box.js';
import { type Config, ConfigError } from '../config/load-config.js';

/**
 * The box that encrypts secrets at rest (TOTP seeds) with the key in secrets.keyFile; null when none is
 * configured (MFA is then off, and a policy requiring it refuses, saying so). A key file that is missing,
 * short or malformed fails the start, naming the field.
 */
export async function openSecretBox(config: Config): Promise<SecretBox | null> {
  if (!config.secretsKeyFile) return null;
  try {
    return await loadSecretBox(config.secretsKeyFile);
  } catch (e) {
    if (e instanceof SecretKeyError) throw new ConfigError(`${config.file}: secrets.keyFile: ${e.message}`);
    throw e;
  }
}

/** Whether any policy in force asks for a one-time code, of requesters or of approvers. */
export const policiesRequireMfa = (config: Config): boolean =>
  config.policySet.policies.some((p) => p.requireMfa === true || p.approval?.requireMfa === true);
