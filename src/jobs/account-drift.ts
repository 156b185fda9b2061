import { type AccessRequest, isDueForRemoval } from '../domain/access-request.js';
import { type CredentialAccount, credentialAccounts } from '../domain/grant-mechanism.js';
import type { GrantService } from '../services/grant-service.js';
import type { ClusterGateway, ManagedAccount } from '../services/ports.js';

export interface AccountDriftDeps {
  clusters: Pick<ClusterGateway, 'listManagedServiceAccounts'>;
  grants: Pick<GrantService, 'restoreAccount' | 'removeOrphanAccount'>;
  /** The namespaces where a cluster's credential grants keep their ServiceAccounts (clusters[].credentialNamespace). */
  credentialNamespaces: (cluster: string) => string[];
}

const keyOf = (a: CredentialAccount) => `${a.namespace}/${a.name}`;

/**
 * Drift of credential grants' ServiceAccounts, beside their bindings' (drift-pass.ts): one of an active
 * grant that is gone is made again (tokens issued before stay dead: the new account has a new uid), and
 * a labelled one no live grant stands behind is deleted. `list` comes before the requests are read, so an
 * account made in between belongs to a request already live.
 */
export function createAccountDrift(deps: AccountDriftDeps) {
  return {
    /**
     * The labelled ServiceAccounts in the cluster's credential namespace as configured now. (A grant made
     * under an earlier namespace still has its own account restored; an orphan there is not looked for.)
     */
    async list(cluster: string): Promise<ManagedAccount[]> {
      const namespaces = deps.credentialNamespaces(cluster);
      const lists = await Promise.all(
        namespaces.map((ns) => deps.clusters.listManagedServiceAccounts(cluster, ns)),
      );
      return lists.flat();
    },

    async repair(
      cluster: string,
      listed: ManagedAccount[],
      requests: AccessRequest[],
      now: Date,
      tryEach: <T>(work: () => Promise<T>) => Promise<T | undefined>,
      record: (action: string, requestId: string | null, details: object) => Promise<void>,
    ): Promise<{ restored: number; removed: number }> {
      const found = new Set(listed.map(keyOf));
      const settling = new Set<string>();
      const wanted: { request: AccessRequest; account: CredentialAccount }[] = [];
      for (const r of requests) {
        const ending = r.phase === 'Approved' || isDueForRemoval(r, now);
        for (const account of credentialAccounts(r).filter((a) => a.cluster === cluster)) {
          if (ending) settling.add(keyOf(account));
          else wanted.push({ request: r, account });
        }
      }
      let restored = 0;
      let removed = 0;
      for (const { request, account } of wanted) {
        if (found.has(keyOf(account))) continue;
        const outcome = await tryEach(() => deps.grants.restoreAccount(request.id, account));
        if (outcome !== 'created') continue;
        restored++;
        await record('ServiceAccountRestored', request.id, { serviceAccount: account });
      }
      const wantedKeys = new Set(wanted.map(({ account }) => keyOf(account)));
      for (const account of listed) {
        if (wantedKeys.has(keyOf(account)) || settling.has(keyOf(account))) continue;
        const outcome = await tryEach(() => deps.grants.removeOrphanAccount(account));
        if (outcome !== 'orphan') continue;
        removed++;
        const { requestId, ...where } = account;
        await record('OrphanServiceAccountRemoved', requestId, { serviceAccount: where });
      }
      return { restored, removed };
    },
  };
}
