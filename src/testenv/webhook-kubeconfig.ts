import { readFile, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

/** An Elevate endpoint a testenv's API servers call: its audit webhook or its authorization webhook. */
export interface WebhookOptions {
  /** `{cluster}` is replaced by each cluster's name, e.g. https://127.0.0.1:8443/api/v1/authorize/{cluster}. */
  url: string;
  /** The bearer token the API servers send (the matching tokenFile on Elevate's side). */
  tokenFile: string;
  /** PEM of the CA that signed Elevate's serving certificate; absent: the system's CAs. */
  caFile?: string;
}

/**
 * Writes the kubeconfig an API server reaches a webhook with. client-go sends a kubeconfig's credentials
 * only over TLS: to an http:// URL the token would silently not be sent, and Elevate would refuse every
 * call, so http:// is refused here.
 */
export async function writeWebhookKubeconfig(
  file: string,
  cluster: string,
  webhook: WebhookOptions,
  what: string,
): Promise<void> {
  if (!webhook.url.startsWith('https://')) {
    throw new Error(
      `the ${what} must be an https:// URL (the API server sends its token only over TLS): ${webhook.url}`,
    );
  }
  const token = (await readFile(webhook.tokenFile, 'utf8')).trim();
  if (!token) throw new Error(`${what} token file ${webhook.tokenFile} is empty`);
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
  await writeFile(file, stringify(kubeconfig), { mode: 0o600 });
}
