import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { certificateWriter } from '../cluster-pki.js';

export interface IdpPki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

/**
 * A CA of its own and a serving certificate for 127.0.0.1, made with openssl like the clusters' PKI. Kept
 * across restarts: the API servers were told to trust this CA.
 */
export async function ensureIdpPki(dir: string): Promise<IdpPki> {
  const p = (name: string) => join(dir, name);
  const pki = {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
  };
  if (Object.values(pki).every((f) => existsSync(f))) return pki;
  await mkdir(dir, { recursive: true });
  const newCert = await certificateWriter(dir, pki);
  await newCert(
    '/CN=elevate-testenv-idp-ca',
    pki.caCert,
    pki.caKey,
    ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign'],
    false,
  );
  await newCert(
    '/CN=elevate-testenv-idp',
    pki.serverCert,
    pki.serverKey,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    true,
  );
  return pki;
}
