import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type WebhookOptions, writeWebhookKubeconfig } from './webhook-kubeconfig.js';

/** Where a testenv's API servers send their audit events: Elevate's kube-audit endpoint. */
export type AuditWebhookOptions = WebhookOptions;

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
  const policyFile = join(clusterDir, 'audit-policy.yaml');
  const kubeconfigFile = join(clusterDir, 'audit-webhook.kubeconfig');
  await writeWebhookKubeconfig(kubeconfigFile, cluster, webhook, 'audit webhook');
  await writeFile(policyFile, stringify(policy));
  return [
    `--audit-policy-file=${policyFile}`,
    `--audit-webhook-config-file=${kubeconfigFile}`,
    '--audit-webhook-mode=batch',
    '--audit-webhook-batch-max-wait=500ms',
    // The default 10 s: the first batches of a testenv started before Elevate would wait that long.
    '--audit-webhook-initial-backoff=250ms',
  ];
}
