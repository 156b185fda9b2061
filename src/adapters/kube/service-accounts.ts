import type * as k8s from '@kubernetes/client-node';
import { managedByLabel, managedByValue, requestLabel } from '../../domain/binding.js';
import type { CredentialAccount, DesiredAccount, IssuedToken } from '../../domain/grant-mechanism.js';
import type { ClusterGateway } from '../../services/ports.js';
import type { ClusterClients } from './kube-clients.js';

type Call = <T>(cluster: string, what: string, fn: () => Promise<T>) => Promise<T>;
type CallAccepting = <T>(
  cluster: string,
  what: string,
  fn: () => Promise<T>,
  accept: number,
) => Promise<T | null>;

/**
 * The per-grant ServiceAccounts of `credential` grants: made in the cluster's credential namespace on
 * activation, deleted after the grant's bindings when it ends, and the source of its short-lived tokens.
 */
export function serviceAccountOps(
  clientsFor: (cluster: string) => ClusterClients,
  call: Call,
  callAccepting: CallAccepting,
): Pick<
  ClusterGateway,
  'applyServiceAccount' | 'deleteServiceAccount' | 'issueToken' | 'listManagedServiceAccounts'
> {
  return {
    async listManagedServiceAccounts(cluster, namespace) {
      const { core } = clientsFor(cluster);
      const list = await callAccepting(
        cluster,
        `list ServiceAccounts in ${namespace}`,
        () =>
          core.listNamespacedServiceAccount({
            namespace,
            labelSelector: `${managedByLabel}=${managedByValue}`,
          }),
        404,
      );
      return (list?.items ?? []).map((a) => ({
        cluster,
        namespace,
        name: a.metadata?.name ?? '',
        requestId: a.metadata?.labels?.[requestLabel] ?? null,
      }));
    },

    async applyServiceAccount(cluster, account: DesiredAccount) {
      const { core } = clientsFor(cluster);
      const body: k8s.V1ServiceAccount = {
        metadata: {
          name: account.name,
          namespace: account.namespace,
          labels: account.labels,
          annotations: account.annotations,
        },
        // Its tokens come from the TokenRequest API only; no Secret-based token is ever mounted or made.
        automountServiceAccountToken: false,
      };
      const created = await callAccepting(
        cluster,
        `create ServiceAccount ${account.namespace}/${account.name}`,
        () => core.createNamespacedServiceAccount({ namespace: account.namespace, body }),
        409,
      );
      return created === null ? 'unchanged' : 'created';
    },

    async deleteServiceAccount(cluster, account: CredentialAccount) {
      const { core } = clientsFor(cluster);
      const deleted = await callAccepting(
        cluster,
        `delete ServiceAccount ${account.namespace}/${account.name}`,
        () => core.deleteNamespacedServiceAccount({ name: account.name, namespace: account.namespace }),
        404,
      );
      return deleted === null ? 'absent' : 'deleted';
    },

    async issueToken(cluster, account: CredentialAccount, seconds: number): Promise<IssuedToken> {
      const { core, endpoint } = clientsFor(cluster);
      const issued = await call(cluster, `request a token of ${account.namespace}/${account.name}`, () =>
        core.createNamespacedServiceAccountToken({
          name: account.name,
          namespace: account.namespace,
          body: { spec: { expirationSeconds: seconds, audiences: [] } },
        }),
      );
      const token = issued.status?.token;
      const expiresAt = issued.status?.expirationTimestamp;
      if (!token || !expiresAt) throw new Error(`cluster ${cluster}: the TokenRequest returned no token`);
      return { token, expiresAt: new Date(expiresAt), ...endpoint };
    },
  };
}
