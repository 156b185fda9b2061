import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { AuditWebhookOptions } from './audit-webhook.js';
import type { AuthzWebhookOptions } from './authz-webhook.js';
import {
  apiserverReady,
  controllersDone,
  loadKubeconfig,
  readyTimeoutMs,
  waitUntil,
} from './cluster-readiness.js';
import { isRunning, stopProcesses } from './detached-process.js';
import { writeAuthenticationConfig } from './idp/idp-authentication-config.js';
import { idpPaths } from './idp/idp-info.js';
import { idpRunning, startIdp, stopIdp } from './idp/idp-process.js';
import { resolveKubeBinaries } from './kube-binaries.js';
import { startCluster } from './start-cluster.js';
import {
  readTestenvState,
  removeTestenvState,
  type TestenvState,
  writeTestenvState,
} from './testenv-state.js';

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
  /** Every API server sends its audit events to this webhook (`{cluster}` in the URL: its name). */
  auditWebhook?: AuditWebhookOptions;
  /** Every API server asks this authorization webhook after Node and RBAC (`{cluster}`: its name). */
  authzWebhook?: AuthzWebhookOptions;
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
  const auditWebhook = opts.auditWebhook ?? null;
  const authzWebhook = opts.authzWebhook ?? null;
  const idpOptions = { dir, idTokenTtlSeconds: opts.idpTokenTtlSeconds, log };

  const running = await adoptRunning(dir, names, { apiserverArgs, idp, auditWebhook, authzWebhook }, log);
  if (running) {
    if (idp && !idpRunning(dir)) await startIdp(idpOptions);
    return running;
  }

  const bins = await resolveKubeBinaries(opts.binDir, log);
  await mkdir(dir, { recursive: true });
  const state: TestenvState = {
    version: 1,
    apiserverArgs,
    idp,
    auditWebhook,
    authzWebhook,
    clusters: [],
    processes: [],
  };
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
        ...(auditWebhook ? { auditWebhook } : {}),
        ...(authzWebhook ? { authzWebhook } : {}),
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
  asked: Pick<TestenvState, 'apiserverArgs' | 'idp' | 'auditWebhook' | 'authzWebhook'>,
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
    state.apiserverArgs.join('\0') === asked.apiserverArgs.join('\0') &&
    (state.idp ?? false) === asked.idp &&
    JSON.stringify(state.auditWebhook ?? null) === JSON.stringify(asked.auditWebhook ?? null) &&
    JSON.stringify(state.authzWebhook ?? null) === JSON.stringify(asked.authzWebhook ?? null);
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
