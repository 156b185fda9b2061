import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { ClusterConnection } from '../../config/load-config.js';
import {
  defaultCredentialNamespace,
  type GrantMechanism,
  grantMechanisms,
} from '../../domain/grant-mechanism.js';
import type { ManagedCluster } from '../../services/ports.js';
import { watchObjects } from './binding-watch.js';
import { loadKubeConfig } from './kube-clients.js';

/** The label that makes a Secret in Elevate's home namespace a cluster to manage (Argo CD's convention). */
export const clusterSecretLabel = 'elevate.dev/cluster';
/** Annotations for how the cluster's API server names OIDC users (clusters[].subjects in the file). */
export const userPrefixAnnotation = 'elevate.dev/user-prefix';
export const groupPrefixAnnotation = 'elevate.dev/group-prefix';
/** Annotations for how grants there may give access (clusters[].grants and credentialNamespace). */
export const grantsAnnotation = 'elevate.dev/grants';
export const credentialNamespaceAnnotation = 'elevate.dev/credential-namespace';

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A cluster a Secret describes, with the connection to it. */
export interface ClusterSecret {
  cluster: ManagedCluster;
  kubeconfig: k8s.KubeConfig;
  /** Changes when the connection does (kubeconfig or context), so only then is it opened again. */
  digest: string;
}

/** A labelled Secret that does not describe a usable cluster, and why. */
export interface RefusedSecret {
  secret: string;
  reason: string;
}

const decode = (data: Record<string, string> | undefined, key: string) =>
  data?.[key] === undefined ? undefined : Buffer.from(data[key], 'base64').toString('utf8').trim();

/**
 * A kubeconfig from a Secret, held to more than one on disk: whoever may write Secrets in Elevate's
 * namespace must not get it to run a program (exec, auth-provider plugins) or read its files (paths
 * instead of inline data), nor send credentials in the clear or to an unverified server.
 */
function kubeConfigFrom(text: string, context: string | undefined): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromString(text);
  } catch (e) {
    // A YAML error's later lines quote the source, which holds credentials: only its first line is kept.
    throw new Error((e as Error).message.split('\n')[0]);
  }
  if (context !== undefined) {
    if (!kc.getContextObject(context)) throw new Error(`the kubeconfig has no context ${context}`);
    kc.setCurrentContext(context);
  }
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster?.server) throw new Error('the kubeconfig has no current cluster');
  if (!cluster.server.startsWith('https://')) throw new Error('the server must be https://');
  if (cluster.skipTLSVerify) throw new Error('insecure-skip-tls-verify is not allowed');
  if (cluster.caFile) throw new Error('certificate-authority must be inline (certificate-authority-data)');
  if (!user) throw new Error('the kubeconfig has no current user');
  if (user.exec || user.authProvider) throw new Error('exec and auth-provider credentials are not allowed');
  if (user.certFile || user.keyFile) throw new Error('client certificates must be inline (-data fields)');
  if (!user.token && !user.certData) throw new Error('the user has neither a token nor a client certificate');
  return kc;
}

/** Reads one labelled Secret: the cluster it describes, or why it cannot be used. */
export function readClusterSecret(secret: k8s.V1Secret): ClusterSecret | RefusedSecret {
  const meta = secret.metadata ?? {};
  const where = `secret ${meta.namespace}/${meta.name}`;
  const refuse = (reason: string): RefusedSecret => ({ secret: where, reason });
  const name = decode(secret.data, 'name') ?? meta.name ?? '';
  if (!dnsLabel.test(name) || name.length > 63) return refuse(`name ${name} is not a DNS label`);
  const text = decode(secret.data, 'kubeconfig');
  if (!text) return refuse('it has no kubeconfig key');
  const context = decode(secret.data, 'context');
  let kubeconfig: k8s.KubeConfig;
  try {
    kubeconfig = kubeConfigFrom(text, context);
  } catch (e) {
    return refuse(`its kubeconfig cannot be used: ${(e as Error).message}`);
  }
  const { [clusterSecretLabel]: _, ...labels } = meta.labels ?? {};
  const annotations = meta.annotations ?? {};
  const mechanisms = (annotations[grantsAnnotation] ?? 'binding').split(',').map((m) => m.trim());
  const unknown = mechanisms.filter((m) => !(grantMechanisms as readonly string[]).includes(m));
  if (unknown.length > 0) return refuse(`${grantsAnnotation}: unknown grant mechanism ${unknown.join(', ')}`);
  const credentialNamespace = annotations[credentialNamespaceAnnotation] ?? defaultCredentialNamespace;
  if (!dnsLabel.test(credentialNamespace)) {
    return refuse(`${credentialNamespaceAnnotation}: ${credentialNamespace} is not a namespace name`);
  }
  return {
    cluster: {
      name,
      labels,
      subjects: {
        userPrefix: annotations[userPrefixAnnotation] ?? '',
        groupPrefix: annotations[groupPrefixAnnotation] ?? '',
      },
      grants: { mechanisms: mechanisms as GrantMechanism[], credentialNamespace },
      source: where,
    },
    kubeconfig,
    digest: createHash('sha256')
      .update(`${text}\n${context ?? ''}`)
      .digest('hex'),
  };
}

export const isRefused = (s: ClusterSecret | RefusedSecret): s is RefusedSecret => 'reason' in s;

/**
 * Watches the Secrets labelled elevate.dev/cluster=true in one namespace of the home cluster and reports
 * the whole set after each change (a burst once). `listed` settles after the first report, or on
 * giving up waiting for it: a start does not hang on a home cluster that cannot be reached.
 */
export function watchClusterSecrets(
  home: ClusterConnection,
  namespace: string,
  deps: {
    onChange: (secrets: (ClusterSecret | RefusedSecret)[]) => void;
    onError: (error: Error) => void;
    firstListWithinMs?: number;
  },
) {
  const kc = loadKubeConfig(home);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const labelSelector = `${clusterSecretLabel}=true`;
  const known = new Map<string, k8s.V1Secret>();
  let pending: NodeJS.Timeout | undefined;
  let firstReported: () => void = () => {};
  const listed = new Promise<void>((resolve) => {
    firstReported = resolve;
    setTimeout(resolve, deps.firstListWithinMs ?? 10_000).unref();
  });

  function report(delayMs: number): void {
    clearTimeout(pending);
    pending = setTimeout(() => {
      deps.onChange([...known.values()].map(readClusterSecret));
      firstReported();
    }, delayMs);
  }

  const watch = watchObjects<k8s.V1Secret>({
    watch: new k8s.Watch(kc),
    path: `/api/v1/namespaces/${namespace}/secrets`,
    labelSelector,
    list: async () => {
      const list = await core.listNamespacedSecret({ namespace, labelSelector });
      known.clear();
      for (const s of list.items) known.set(s.metadata?.name ?? '', s);
      report(0);
      return list;
    },
    onEvent: (type, secret) => {
      if (type === 'DELETED') known.delete(secret.metadata?.name ?? '');
      else known.set(secret.metadata?.name ?? '', secret);
      report(100);
    },
    onError: deps.onError,
  });

  return {
    listed,
    stop(): void {
      clearTimeout(pending);
      watch.stop();
    },
  };
}
