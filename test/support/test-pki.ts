import { join } from 'node:path';
import { certificateWriter } from '../../src/testenv/cluster-pki.js';

export interface TestPki {
  caCert: string;
  caKey: string;
  /** Valid for 127.0.0.1 and localhost, signed by caCert. */
  serverCert: string;
  serverKey: string;
}

/** A fresh CA and a server certificate for 127.0.0.1 it signed, written into `dir` (openssl CLI, P-256). */
export async function writeTestPki(dir: string): Promise<TestPki> {
  const pki = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
  };
  const newCert = await certificateWriter(dir, pki);
  await newCert(
    '/CN=elevate-test-ca',
    pki.caCert,
    pki.caKey,
    ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign'],
    false,
  );
  await newCert(
    '/CN=localhost',
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
