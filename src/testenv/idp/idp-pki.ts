import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type LoopbackPki, writeLoopbackPki } from '../cluster-pki.js';

export type IdpPki = LoopbackPki;

/**
 * A CA of its own and a serving certificate for 127.0.0.1, made with openssl like the clusters' PKI. Kept
 * across restarts: the API servers were told to trust this CA.
 */
export async function ensureIdpPki(dir: string): Promise<IdpPki> {
  const files = ['ca.crt', 'ca.key', 'server.crt', 'server.key'].map((f) => join(dir, f));
  if (files.every((f) => existsSync(f))) {
    const [caCert, caKey, serverCert, serverKey] = files as [string, string, string, string];
    return { caCert, caKey, serverCert, serverKey };
  }
  await mkdir(dir, { recursive: true });
  return writeLoopbackPki(dir, 'elevate-testenv-idp');
}
