import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

const jwksSchema = z.object({ keys: z.array(z.looseObject({ kid: z.string(), kty: z.string() })).min(1) });

export type PrivateJwks = z.infer<typeof jwksSchema>;

function newSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kty: 'RSA', kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
}

export function readJwks(file: string): PrivateJwks {
  return jwksSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

function writeJwks(file: string, jwks: PrivateJwks): void {
  // Private keys: readable by the owner only.
  writeFileSync(`${file}.tmp`, `${JSON.stringify(jwks)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** Keeps the keys of an earlier run (tokens it issued stay valid); creates one RS256 key the first time. */
export function ensureJwks(file: string): PrivateJwks {
  if (existsSync(file)) return readJwks(file);
  const jwks = { keys: [newSigningKey()] };
  writeJwks(file, jwks);
  return jwks;
}

/**
 * Puts a new key first (oidc-provider signs with the first key of a type); the previous keys stay published
 * for verification unless `dropOld`. Returns the new key id.
 */
export function addSigningKey(file: string, dropOld: boolean): string {
  const key = newSigningKey();
  const old = existsSync(file) ? readJwks(file).keys : [];
  // Two generations are enough to verify every token still alive; older ones only grow the JWKS.
  writeJwks(file, { keys: [key, ...(dropOld ? [] : old.slice(0, 1))] });
  return key.kid;
}
