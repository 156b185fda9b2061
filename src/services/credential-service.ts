import type { AccessRequest } from '../domain/access-request.js';
import { requestEvent } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import { Conflict, Forbidden, Invalid } from '../domain/errors.js';
import {
  type CredentialAccount,
  credentialAccounts,
  type IssuedToken,
  mechanismOf,
} from '../domain/grant-mechanism.js';
import type { Identity } from '../domain/identity.js';
import type { ClusterGateway, Store } from './ports.js';

export interface CredentialServiceDeps {
  /** Loads a request the caller may see, or throws NotFound/Forbidden (the request service's get). */
  load: (who: Identity, id: string) => Promise<AccessRequest>;
  store: Pick<Store, 'appendAudit'>;
  clusters: Pick<ClusterGateway, 'issueToken'>;
  clock: Clock;
}

/** The API server's shortest TokenRequest: a token asked for less is refused. */
export const shortestTokenSeconds = 600;

export interface GrantCredential extends IssuedToken {
  cluster: string;
  account: CredentialAccount;
}

/**
 * Tokens of a credential grant's ServiceAccount, for its requester only, while it is Active. A token lives
 * as long as the grant has left (at least the API server's 10 minutes), yet stops working when the grant
 * ends: its bindings are deleted first (authorization ends at once), then its ServiceAccount (the token no
 * longer authenticates once the API server's token cache has passed). Each issue is audited, never the token.
 */
export function createCredentialService(deps: CredentialServiceDeps) {
  return {
    async issue(who: Identity, id: string, cluster: string | null): Promise<GrantCredential> {
      const request = await deps.load(who, id);
      if (request.spec.requester !== who.user) {
        throw new Forbidden(
          `only ${request.spec.requester} may have the credentials of access request ${id}`,
        );
      }
      if (mechanismOf(request) !== 'credential') {
        throw new Conflict(
          `access request ${id} is granted by bindings to ${request.spec.requester}: use your own identity`,
        );
      }
      const expiresAt = request.grant?.expiresAt;
      if (request.phase !== 'Active' || !expiresAt || request.revocation) {
        throw new Conflict(
          `access request ${id} is ${request.phase}; credentials are issued while it is Active`,
        );
      }
      const accounts = credentialAccounts(request);
      const account =
        cluster === null && accounts.length === 1 ? accounts[0] : accounts.find((a) => a.cluster === cluster);
      if (!account) {
        const clusters = accounts.map((a) => a.cluster).join(', ');
        throw new Invalid(`give one of the request's clusters (${clusters})`, 'cluster');
      }
      const now = deps.clock.now();
      const seconds = Math.max(shortestTokenSeconds, Math.ceil((expiresAt.getTime() - now.getTime()) / 1000));
      const issued = await deps.clusters.issueToken(account.cluster, account, seconds);
      await deps.store.appendAudit([
        requestEvent(request, who.user, 'CredentialIssued', now, {
          cluster: account.cluster,
          serviceAccount: `system:serviceaccount:${account.namespace}:${account.name}`,
          tokenExpiresAt: issued.expiresAt.toISOString(),
        }),
      ]);
      return { ...issued, cluster: account.cluster, account };
    },
  };
}
export type CredentialService = ReturnType<typeof createCredentialService>;
