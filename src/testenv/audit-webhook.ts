import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** Where a testenv's API servers send their audit events: Elevate's kube-audit endpoint. */
export interface AuditWebhookOptions {
  /** `{cluster}` is replaced by each cluster's name, e.g. http://127.0.0.1:8080/api/v1/activity/kube-audit/{cluster}. */
  url: string;
  /** The bearer token the API servers send (clusters[].activity.tokenFile on Elevate's side). */
  tokenFile: string;
  /** PEM of the CA that signed Elevate's serving certificate; absent: the system's CAs. */
  caFile?: string;
}

/**
 * Metadata level (who did what to which object, and the authorizer's decision and reason; no bodies), and
 * without the RequestReceived stage: Elevate records an action once, when its response is known.
 */
const policy = {
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [{ level: 'Metadata' }],
};

/**
 * Writes the audit policy and the webhook's kubeconfig into the cluster's directory and returns the
 * kube-apiserver flags that use them: batches sent after at most half a second (the default 30 s is
 * made for throughput; a test or a demo wants to see actions at once).
 */
export async function auditWebhookArgs(
  clusterDir: string,
  cluster: string,
  webhook: AuditWebhookOptions,
): Promise<string[]> {
  // client-go sends a kubeconfig's credentials only over TLS: to an http:// URL the token would silently
  // not be sent, and Elevate would refuse every batch.
  if (!webhook.url.startsWith('https://')) {
    throw new Error(
      `the audit webhook must be an https:// URL (the API server sends its token only over TLS): ${webhook.url}`,
    );
  }
  const token = (await readFile(webhook.tokenFile, 'utf8')).trim();
  if (!token) throw new Error(`audit webhook token file ${webhook.tokenFile} is empty`);
  const policyFile = join(clusterDir, 'audit-policy.yaml');
  const kubeconfigFile = join(clusterDir, 'audit-webhook.kubeconfig');
  await writeFile(policyFile, stringify(policy));
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'elevate',
        cluster: {
          server: webhook.url.replaceAll('{cluster}', cluster),
          ...(webhook.caFile ? { 'certificate-authority': webhook.caFile } : {}),
        },
      },
    ],
    users: [{ name: 'kube-apiserver', user: { token } }],
    contexts: [{ name: 'elevate', context: { cluster: 'elevate', user: 'kube-apiserver' } }],
    'current-context': 'elevate',
  };
  await writeFile(kubeconfigFile, stringify(kubeconfig), { mode: 0o600 });
  return [
    `--audit-policy-file=${policyFile}`,
    `--audit-webhook-config-file=${kubeconfigFile}`,
    '--audit-webhook-mode=batch',
    '--audit-webhook-batch-max-wait=500ms',
    // The default 10 s: the first batches of a testenv started before Elevate would wait that long.
    '--audit-webhook-initial-backoff=250ms',
  ];
}
