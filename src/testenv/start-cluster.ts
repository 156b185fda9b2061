import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type AuditWebhookOptions, auditWebhookArgs } from './audit-webhook.js';
import { type AuthzWebhookOptions, authzWebhookArgs } from './authz-webhook.js';
import { type ClusterPki, createClusterPki } from './cluster-pki.js';
import {
  apiserverReady,
  controllersDone,
  etcdHealthy,
  loadKubeconfig,
  readyTimeoutMs,
  waitUntil,
} from './cluster-readiness.js';
import { type DetachedProcess, spawnDetached } from './detached-process.js';
import { installElevateIdentity } from './elevate-identity.js';
import { freePort } from './free-port.js';
import type { KubeBinaries } from './kube-binaries.js';
import type { TestCluster } from './testenv.js';
import type { RecordedProcess, TestenvState } from './testenv-state.js';
import { writeKubeconfig } from './write-kubeconfig.js';

const controllers = [
  'clusterrole-aggregation-controller',
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
];

export interface StartParams {
  dir: string;
  name: string;
  bins: KubeBinaries;
  apiserverArgs: string[];
  log: (line: string) => void;
  state: TestenvState;
  save: () => void;
  /** Extra kube-apiserver flags that only exist once something else has started (the identity provider). */
  authArgs: () => Promise<string[]>;
  /** Send the API server's audit events to this webhook (Elevate's activity capture). */
  auditWebhook?: AuditWebhookOptions;
  /** Ask this webhook after Node and RBAC (Elevate's webhook grants). */
  authzWebhook?: AuthzWebhookOptions;
}

export async function startCluster({
  dir,
  name,
  bins,
  apiserverArgs,
  log,
  state,
  save,
  authArgs,
  auditWebhook,
  authzWebhook,
}: StartParams): Promise<TestCluster> {
  const started = Date.now();
  const deadline = started + readyTimeoutMs;
  const clusterDir = join(dir, name);
  // A previous run's etcd data and certificates belong to a cluster that no longer runs.
  await rm(clusterDir, { recursive: true, force: true });
  await mkdir(join(clusterDir, 'logs'), { recursive: true });
  await mkdir(join(clusterDir, 'pki'), { recursive: true });

  const pki = await createClusterPki(join(clusterDir, 'pki'), name);
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfigPath = join(clusterDir, 'admin.kubeconfig');
  const cmKubeconfig = join(clusterDir, 'controller-manager.kubeconfig');
  await writeKubeconfig({
    path: kubeconfigPath,
    name,
    user: `elevate-admin@${name}`,
    server,
    caFile: pki.caCert,
    certFile: pki.adminCert,
    keyFile: pki.adminKey,
  });
  await writeKubeconfig({
    path: cmKubeconfig,
    name,
    user: `kube-controller-manager@${name}`,
    server,
    caFile: pki.caCert,
    certFile: pki.controllerManagerCert,
    keyFile: pki.controllerManagerKey,
  });

  const procs: RecordedProcess[] = [];
  let crash: RecordedProcess | undefined;
  const start = (procName: string, command: string, args: string[]) => {
    const logFile = join(clusterDir, 'logs', `${procName}.log`);
    const proc: DetachedProcess = spawnDetached(command, args, logFile);
    const recorded: RecordedProcess = {
      cluster: name,
      name: procName,
      pid: proc.pid,
      cmdline: proc.cmdline,
      log: logFile,
    };
    void proc.exited.then((how) => {
      crash ??= { ...recorded, name: `${procName} ${how}` };
    });
    procs.push(recorded);
    state.processes.push(recorded);
    save();
  };
  const crashed = () => crash;

  start('etcd', bins.etcd, etcdArgs(clusterDir, name, etcdPort, peerPort));
  await waitUntil(name, 'etcd', () => etcdHealthy(etcdPort), deadline, crashed, procs);

  const audit = auditWebhook ? await auditWebhookArgs(clusterDir, name, auditWebhook) : [];
  const authz = authzWebhook ? await authzWebhookArgs(clusterDir, name, authzWebhook) : [];
  const args = [...(await authArgs()), ...audit, ...authz, ...apiserverArgs];
  start('kube-apiserver', bins.kubeApiserver, kubeApiserverArgs(pki, etcdPort, apiPort, args));
  const kc = loadKubeconfig(kubeconfigPath);
  await waitUntil(name, 'the API server to be ready', () => apiserverReady(kc), deadline, crashed, procs);

  // Started only now because it gives up if the API server is not healthy within a few seconds.
  start('kube-controller-manager', bins.kubeControllerManager, [
    `--kubeconfig=${cmKubeconfig}`,
    `--controllers=${controllers.join(',')}`,
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.caCert}`,
    // Each controller acts as its own service account, so it gets exactly the bootstrap RBAC role it has in
    // a real cluster (the controller manager's own identity may not, e.g., update ClusterRoles).
    '--use-service-account-credentials=true',
    '--leader-elect=false',
    '--secure-port=0',
  ]);
  await waitUntil(name, 'the controllers', () => controllersDone(kc), deadline, crashed, procs);
  const elevateKubeconfigPath = join(clusterDir, 'elevate.kubeconfig');
  await installElevateIdentity(kubeconfigPath, elevateKubeconfigPath);

  log(`${name}: ready at ${server} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return { name, server, kubeconfigPath, elevateKubeconfigPath, dir: clusterDir };
}

function etcdArgs(clusterDir: string, name: string, clientPort: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return [
    `--name=${name}`,
    `--data-dir=${join(clusterDir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${name}=${peer}`,
    // Throwaway data: durability buys nothing and fsync dominates etcd's write latency.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

function kubeApiserverArgs(pki: ClusterPki, etcdPort: number, apiPort: number, extra: string[]): string[] {
  const flagName = (arg: string) => arg.split('=')[0] ?? arg;
  const given = new Set(extra.filter((a) => a.startsWith('--')).map(flagName));
  // A webhook authorizer is only consulted when it is one of the modes; RBAC first, as in most clusters.
  const mode = given.has('--authorization-webhook-config-file') ? 'RBAC,Webhook' : 'RBAC';
  const defaults = [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    `--tls-cert-file=${pki.apiserverCert}`,
    `--tls-private-key-file=${pki.apiserverKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--authorization-mode=${mode}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--profiling=false',
    // The default reconciler keeps failing because Endpoints may not point at loopback addresses.
    '--endpoint-reconciler-type=none',
  ];
  // --authorization-config replaces --authorization-mode; kube-apiserver refuses both.
  if (given.has('--authorization-config')) given.add('--authorization-mode');
  return [...defaults.filter((d) => !given.has(flagName(d))), ...extra];
}
