import https from 'node:https';
import * as k8s from '@kubernetes/client-node';

export interface SarClient {
  /** Whether `user` may `get pods` in `namespace`, as the API server's authorizer says now. */
  allowed(user: string, namespace: string): Promise<boolean>;
  close(): void;
}

/**
 * SubjectAccessReviews over a keep-alive connection pool. The client-node agent opens a fresh TLS
 * connection per call, which would add a handshake to every poll and blur the latencies being measured.
 */
export async function createSarClient(kubeconfigPath: string, maxSockets = 64): Promise<SarClient> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error(`${kubeconfigPath}: no current cluster`);
  const tls: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets,
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert ? { cert: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
  });
  const url = new URL('/apis/authorization.k8s.io/v1/subjectaccessreviews', server);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  const bearer = (tls.headers as Record<string, string> | undefined)?.Authorization;
  if (bearer) headers.authorization = bearer;

  function post(body: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method: 'POST', agent, headers, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 201 && res.statusCode !== 200)
            reject(new Error(`SubjectAccessReview: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
          else resolve(text);
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('SubjectAccessReview timed out')));
      req.on('error', reject);
      req.end(body);
    });
  }

  return {
    async allowed(user, namespace) {
      const body = JSON.stringify({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: { user, resourceAttributes: { verb: 'get', resource: 'pods', group: '', namespace } },
      });
      const review = JSON.parse(await post(body)) as { status?: { allowed?: boolean } };
      return review.status?.allowed === true;
    },
    close: () => agent.destroy(),
  };
}
