import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { type ClusterPki, createClusterPki } from './cluster-pki.js';
import { type DetachedProcess, isRunning, spawnDetached, stopProcesses } from './detached-process.js';
import { installElevateIdentity } from './elevate-identity.js';
import { freePort } from './free-port.js';
import { writeAuthenticationConfig } from './idp/idp-authentication-config.js';
import { idpPaths } from './idp/idp-info.js';
import { idpRunning, startIdp, stopIdp } from './idp/idp-process.js';
import { type KubeBinaries, resolveKubeBinaries } from './kube-binaries.js';
import {
  type RecordedProcess,
  readTestenvState,
  removeTestenvState,
  type TestenvState,
  writeTestenvState,
} from './testenv-state.js';
import { writeKubeconfig } from './write-kubeconfig.js';

export interface TestenvOptions {
  /** State directory: one subdirectory per cluster (PKI, kubeconfigs, etcd data, logs) and testenv.json. */
  dir: string;
  /** How many independent clusters; they are named dev, dev2, dev3... Default 1. */
  clusters?: number;
  /** Directory with etcd, kube-apiserver, kube-controller-manager and kubectl; default: scripts/build-kube.sh. */
  binDir?: string;
  /**
   * Extra kube-apiserver flags. A flag given here replaces the default of the same name. Passing
   * --authorization-webhook-config-file without --authorization-mode turns the mode into RBAC,Webhook.
   */
  apiserverArgs?: string[];
  /**
   * Also run the testenv OpenID provider (DIR/idp/info.json) and make every API server trust it through a
   * structured AuthenticationConfiguration (users and groups prefixed with oidc:).
   */
  idp?: boolean;
  /** ID token lifetime of that provider; default 600 seconds. */
  idpTokenTtlSeconds?: number;
  log?: (line: string) => void;
}

export interface TestCluster {
  name: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** Cluster-admin kubeconfig (system:masters) with the context named after the cluster. */
  kubeconfigPath: string;
  /** Elevate's own least-privilege identity (deploy/elevate-rbac.yaml), for Elevate's config. */
  elevateKubeconfigPath: string;
  dir: string;
}

const readyTimeoutMs = 90_000;
const logTailLines = 40;
const controllers = [
  'clusterrole-aggregation-controller',
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
];

const clusterNames = (count: number) =>
  Array.from({ length: count }, (_, i) => (i === 0 ? 'dev' : `dev${i + 1}`));

/**
 * Starts `clusters` control planes (etcd, kube-apiserver with RBAC, kube-controller-manager) as detached
 * processes and resolves once each serves /readyz, has aggregated the `edit` ClusterRole and has created the
 * `default` ServiceAccount. If `dir` already holds a running testenv with the same clusters and apiserver
 * flags, that one is returned once healthy; a different running testenv is an error.
 */
export async function testenvUp(opts: TestenvOptions): Promise<TestCluster[]> {
  const log = opts.log ?? (() => {});
  const dir = resolve(opts.dir);
  const count = opts.clusters ?? 1;
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`clusters must be a positive integer, not ${count}`);
  const names = clusterNames(count);
  const apiserverArgs = opts.apiserverArgs ?? [];
  const idp = opts.idp ?? false;
  const idpOptions = { dir, idTokenTtlSeconds: opts.idpTokenTtlSeconds, log };

  const running = await adoptRunning(dir, names, apiserverArgs, idp, log);
  if (running) {
    if (idp && !idpRunning(dir)) await startIdp(idpOptions);
    return running;
  }

  const bins = await resolveKubeBinaries(opts.binDir, log);
  await mkdir(dir, { recursive: true });
  const state: TestenvState = { version: 1, apiserverArgs, idp, clusters: [], processes: [] };
  // Started beside the etcds; each API server waits for it, so its JWT authenticator finds the issuer at once.
  const idpStarted = idp
    ? startIdp(idpOptions).then((info) => [
        `--authentication-config=${writeAuthenticationConfig(join(idpPaths(dir).dir, 'authentication-config.json'), info)}`,
      ])
    : Promise.resolve([]);
  idpStarted.catch(() => {}); // awaited by every cluster; this only keeps an early failure from going unhandled
  const results = await Promise.allSettled(
    names.map((name) =>
      startCluster({
        dir,
        name,
        bins,
        apiserverArgs,
        log,
        state,
        save: () => writeTestenvState(dir, state),
        authArgs: () => idpStarted,
      }),
    ),
  );
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length > 0) {
    // Leave nothing running behind a failed start; the logs stay in dir for the post-mortem.
    await stopProcesses(state.processes);
    await stopIdp({ dir });
    removeTestenvState(dir);
    if (failures.length === 1) throw failures[0];
    throw new AggregateError(failures, failures.map((f) => (f as Error).message).join('\n\n'));
  }
  state.clusters = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  writeTestenvState(dir, state);
  return state.clusters;
}

/** Stops exactly the processes recorded in `dir` and forgets them. Nothing recorded is not an error. */
export async function testenvDown(opts: { dir: string }): Promise<void> {
  const dir = resolve(opts.dir);
  const state = readTestenvState(dir);
  if (!state) return stopIdp({ dir });
  // The API servers and controller managers first, so they don't spend the grace period reconnecting to etcd.
  await stopProcesses(state.processes.filter((p) => p.name !== 'etcd'));
  await stopProcesses(state.processes.filter((p) => p.name === 'etcd'));
  await stopIdp({ dir });
  removeTestenvState(dir);
}

async function adoptRunning(
  dir: string,
  names: string[],
  apiserverArgs: string[],
  idp: boolean,
  log: (line: string) => void,
): Promise<TestCluster[] | undefined> {
  const state = readTestenvState(dir);
  if (!state) return undefined;
  const alive = state.processes.filter(isRunning);
  if (alive.length === 0) {
    // Left over from a reboot or a killed session: nothing to stop, start afresh.
    removeTestenvState(dir);
    return undefined;
  }
  const same =
    alive.length === state.processes.length &&
    state.clusters.map((c) => c.name).join() === names.join() &&
    state.apiserverArgs.join('\0') === apiserverArgs.join('\0') &&
    (state.idp ?? false) === idp;
  if (!same) {
    throw new Error(
      `${dir} already has a running testenv (clusters ${state.clusters.map((c) => c.name).join(', ') || 'starting'}, ` +
        `${alive.length}/${state.processes.length} processes alive) that differs from the one asked for; stop it first with testenv down`,
    );
  }
  log(`reusing the running testenv in ${dir}`);
  const deadline = Date.now() + readyTimeoutMs;
  for (const cluster of state.clusters) {
    const procs = state.processes.filter((p) => p.cluster === cluster.name);
    const kc = loadKubeconfig(cluster.kubeconfigPath);
    const crashed = () => {
      const dead = procs.find((p) => !isRunning(p));
      return dead && { ...dead, name: `${dead.name} is no longer running` };
    };
    await waitUntil(
      cluster.name,
      'the API server to be ready',
      () => apiserverReady(kc),
      deadline,
      crashed,
      procs,
    );
    await waitUntil(cluster.name, 'the controllers', () => controllersDone(kc), deadline, crashed, procs);
  }
  return state.clusters;
}

interface StartParams {
  dir: string;
  name: string;
  bins: KubeBinaries;
  apiserverArgs: string[];
  log: (line: string) => void;
  state: TestenvState;
  save: () => void;
  /** Extra kube-apiserver flags that only exist once something else has started (the identity provider). */
  authArgs: () => Promise<string[]>;
}

async function startCluster({
  dir,
  name,
  bins,
  apiserverArgs,
  log,
  state,
  save,
  authArgs,
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

  const args = [...(await authArgs()), ...apiserverArgs];
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

function loadKubeconfig(path: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

async function etcdHealthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
    return res.ok;
  } catch {
    return false;
  }
}

async function apiserverReady(kc: k8s.KubeConfig): Promise<boolean> {
  try {
    return await new k8s.Health(kc).readyz({ signal: AbortSignal.timeout(2_000) });
  } catch {
    return false;
  }
}

async function controllersDone(kc: k8s.KubeConfig): Promise<boolean> {
  try {
    const edit = await kc.makeApiClient(k8s.RbacAuthorizationV1Api).readClusterRole({ name: 'edit' });
    if (!edit.rules?.length) return false;
    await kc
      .makeApiClient(k8s.CoreV1Api)
      .readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(
  cluster: string,
  what: string,
  check: () => Promise<boolean>,
  deadline: number,
  crashed: () => RecordedProcess | undefined,
  procs: RecordedProcess[],
): Promise<void> {
  for (;;) {
    const dead = crashed();
    if (dead) {
      throw new Error(`testenv ${cluster}: ${dead.name} while waiting for ${what}${logTail(dead.log)}`);
    }
    if (await check()) return;
    if (Date.now() > deadline) {
      // The newest process is the one being waited for.
      const suspect = procs.at(-1);
      throw new Error(
        `testenv ${cluster}: timed out after ${readyTimeoutMs / 1000}s waiting for ${what}` +
          (suspect ? `${logTail(suspect.log)}` : ''),
      );
    }
    await sleep(100);
  }
}

function logTail(file: string): string {
  if (!existsSync(file)) return '';
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-logTailLines);
  return `; last lines of ${file}:\n${lines.join('\n')}`;
}
