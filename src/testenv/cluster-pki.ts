import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ClusterPki {
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  adminCert: string;
  adminKey: string;
  controllerManagerCert: string;
  controllerManagerKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

const apiserverNames = [
  'IP:127.0.0.1',
  'IP:10.0.0.1',
  'DNS:localhost',
  'DNS:kubernetes',
  'DNS:kubernetes.default',
  'DNS:kubernetes.default.svc',
  'DNS:kubernetes.default.svc.cluster.local',
];

// A config with no extension sections, so the certificates carry exactly the -addext extensions below and
// not the distribution's defaults (which would mark every leaf as a CA).
const minimalConfig = '[req]\ndistinguished_name = dn\n[dn]\n';

/**
 * A function that writes a certificate and its new P-256 key with the openssl CLI: self-signed, or signed by
 * `ca` when `signed`. The minimal config is written into `dir` first.
 */
export async function certificateWriter(dir: string, ca: { caCert: string; caKey: string }) {
  const config = join(dir, 'openssl.cnf');
  await writeFile(config, minimalConfig);
  return (subject: string, cert: string, key: string, ext: string[], signed: boolean) =>
    run('openssl', [
      'req',
      ...['-x509', '-new', '-nodes', '-config', config, '-days', '3650', '-subj', subject],
      ...['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', key, '-out', cert],
      ...(signed ? ['-CA', ca.caCert, '-CAkey', ca.caKey] : []),
      ...ext.flatMap((e) => ['-addext', e]),
    ]);
}

/**
 * Writes a fresh CA, serving and client certificates and the service-account key pair into `dir` with the
 * openssl CLI. TLS keys are P-256 because they are instant to generate; the service-account key is RSA as
 * most token verifiers expect.
 */
export async function createClusterPki(dir: string, clusterName: string): Promise<ClusterPki> {
  const p = (name: string) => join(dir, name);
  const pki: ClusterPki = {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    apiserverCert: p('apiserver.crt'),
    apiserverKey: p('apiserver.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    controllerManagerCert: p('controller-manager.crt'),
    controllerManagerKey: p('controller-manager.key'),
    serviceAccountKey: p('sa.key'),
    serviceAccountPub: p('sa.pub'),
  };
  const newCert = await certificateWriter(dir, pki);
  const leaf = (usage: 'serverAuth' | 'clientAuth') => [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    `extendedKeyUsage=${usage}`,
  ];

  await newCert(
    `/CN=elevate-testenv-ca-${clusterName}`,
    pki.caCert,
    pki.caKey,
    ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign'],
    false,
  );
  await Promise.all([
    newCert(
      '/CN=kube-apiserver',
      pki.apiserverCert,
      pki.apiserverKey,
      [...leaf('serverAuth'), `subjectAltName=${apiserverNames.join(',')}`],
      true,
    ),
    newCert('/O=system:masters/CN=elevate-admin', pki.adminCert, pki.adminKey, leaf('clientAuth'), true),
    newCert(
      '/CN=system:kube-controller-manager',
      pki.controllerManagerCert,
      pki.controllerManagerKey,
      leaf('clientAuth'),
      true,
    ),
    run('openssl', [
      'genpkey',
      '-algorithm',
      'RSA',
      '-pkeyopt',
      'rsa_keygen_bits:2048',
      '-out',
      pki.serviceAccountKey,
    ]).then(() =>
      run('openssl', ['pkey', '-in', pki.serviceAccountKey, '-pubout', '-out', pki.serviceAccountPub]),
    ),
  ]);
  return pki;
}

/** A CA and a serving certificate it signed, for a local server (the testenv's IdP, tests' TLS servers). */
export interface LoopbackPki {
  caCert: string;
  caKey: string;
  /** Valid for 127.0.0.1 and localhost. */
  serverCert: string;
  serverKey: string;
}

/** Writes a fresh CA (CN `<name>-ca`) and a serving certificate for 127.0.0.1 and localhost into `dir`. */
export async function writeLoopbackPki(dir: string, name: string): Promise<LoopbackPki> {
  const pki = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
  };
  const newCert = await certificateWriter(dir, pki);
  await newCert(
    `/CN=${name}-ca`,
    pki.caCert,
    pki.caKey,
    ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign'],
    false,
  );
  await newCert(
    `/CN=${name}`,
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
