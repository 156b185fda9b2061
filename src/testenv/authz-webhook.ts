import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type WebhookOptions, writeWebhookKubeconfig } from './webhook-kubeconfig.js';

/** Where a testenv's API servers ask for authorization after Node and RBAC: Elevate's webhook grants. */
export type AuthzWebhookOptions = WebhookOptions;

/**
 * A structured AuthorizationConfiguration: Node, RBAC, then Elevate's webhook. NoOpinion when Elevate
 * cannot be reached (RBAC alone decides: nobody is locked out, and no grant outlives Elevate's answer),
 * and no decision cached, so a revoked grant is refused on the very next request.
 */
export async function authzWebhookArgs(
  clusterDir: string,
  cluster: string,
  webhook: AuthzWebhookOptions,
): Promise<string[]> {
  const kubeconfigFile = join(clusterDir, 'authz-webhook.kubeconfig');
  await writeWebhookKubeconfig(kubeconfigFile, cluster, webhook, 'authorization webhook');
  const configFile = join(clusterDir, 'authorization.yaml');
  const config = {
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'AuthorizationConfiguration',
    authorizers: [
      { type: 'Node', name: 'node' },
      { type: 'RBAC', name: 'rbac' },
      {
        type: 'Webhook',
        name: 'elevate',
        webhook: {
          timeout: '3s',
          subjectAccessReviewVersion: 'v1',
          matchConditionSubjectAccessReviewVersion: 'v1',
          failurePolicy: 'NoOpinion',
          authorizedTTL: '1s',
          unauthorizedTTL: '1s',
          cacheAuthorizedRequests: false,
          cacheUnauthorizedRequests: false,
          connectionInfo: { type: 'KubeConfigFile', kubeConfigFile: kubeconfigFile },
        },
      },
    ],
  };
  await writeFile(configFile, stringify(config));
  return [`--authorization-config=${configFile}`];
}
