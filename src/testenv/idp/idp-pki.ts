import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

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
  const config = p('openssl.cnf');
  // No extension sections, so the certificates carry exactly the -addext extensions below.
  await writeFile(config, '[req]\ndistinguished_name = dn\n[dn]\n');
  const newCert = (subject: string, cert: string, key: string, ext: string[], signed: boolean) =>
    run('openssl', [
      'req',
      ...['-x509', '-new', '-nodes', '-config', config, '-days', '3650', '-subj', subject],
      ...['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', key, '-out', cert],
      ...(signed ? ['-CA', pki.caCert, '-CAkey', pki.caKey] : []),
      ...ext.flatMap((e) => ['-addext', e]),
    ]);
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
