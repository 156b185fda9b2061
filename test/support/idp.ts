import * as k8s from '@kubernetes/client-node';
import { inject } from 'vitest';
import { IdpBrowser } from '../../src/testenv/idp/idp-browser.js';
import { type IdpInfo, readIdpInfo } from '../../src/testenv/idp/idp-info.js';
import { type FetchIdTokenOptions, fetchIdToken, type IdpTokens } from '../../src/testenv/idp/idp-sign-in.js';
import { testKubeconfig } from './kube.js';

/** The testenv dir whose OpenID provider both shared clusters trust (see test/global-setup.ts). */
export function idpDir(): string {
  const dir = inject('idpDir');
  if (!dir) throw new Error('no testenv identity provider: is this file under test/integration or test/e2e?');
  return dir;
}

/** issuer, caFile, clientId ('elevate'), otherClientId ('other-app'), users, idTokenTtlSeconds. */
export function idpInfo(): IdpInfo {
  return readIdpInfo(idpDir());
}

type TokenOptions = Omit<FetchIdTokenOptions, 'dir' | 'user'>;

/** Every token of a fresh sign-in of `user` (alice, bob, carol, dave, admin) through the provider's pages. */
export function idTokens(user: string, opts: TokenOptions = {}): Promise<IdpTokens> {
  return fetchIdToken({ dir: idpDir(), user, ...opts });
}

/** A fresh ID token of `user`; `{ clientId: idpInfo().otherClientId }` gives one for the wrong audience. */
export async function idToken(user: string, opts: TokenOptions = {}): Promise<string> {
  return (await idTokens(user, opts)).idToken;
}

/** An HTTPS client that trusts the provider's CA and keeps cookies, for driving its pages by hand. */
export function idpBrowser(): IdpBrowser {
  return new IdpBrowser(idpInfo().caFile);
}

/** A kubeconfig for a shared testenv cluster that authenticates with `token` only (no client certificate). */
export function kubeconfigWithToken(token: string, cluster = 'dev'): k8s.KubeConfig {
  const admin = new k8s.KubeConfig();
  admin.loadFromFile(testKubeconfig(cluster));
  const server = admin.getCurrentCluster();
  if (!server) throw new Error(`no cluster in ${testKubeconfig(cluster)}`);
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [server],
    users: [{ name: 'bearer', token }],
    contexts: [{ name: cluster, cluster: server.name, user: 'bearer' }],
    currentContext: cluster,
  });
  return kc;
}

/** Who the API server of `cluster` says the bearer of `token` is (a SelfSubjectReview). */
export async function whoAmI(
  token: string,
  cluster = 'dev',
): Promise<{ username: string; groups: string[] }> {
  const review = await kubeconfigWithToken(token, cluster)
    .makeApiClient(k8s.AuthenticationV1Api)
    .createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
  return { username: review.status?.userInfo?.username ?? '', groups: review.status?.userInfo?.groups ?? [] };
}
