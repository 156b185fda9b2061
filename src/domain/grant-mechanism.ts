import type { AccessRequest, AccessRequestSpec } from './access-request.js';
import { managedByLabel, managedByValue, requestLabel } from './binding.js';

/**
 * How a grant gives access. `binding`: a RoleBinding names the person, who keeps their own identity.
 * `credential`: the bindings name a ServiceAccount made for the grant, and the person gets short-lived
 * tokens of it (Vault's Kubernetes secrets engine): for clusters that do not trust the company's identity
 * provider, contractors and automation, and one clean audit identity per grant. `webhook`: nothing is
 * written to the cluster; its API server asks Elevate (an authorization webhook) on every request, and an
 * ended grant is refused on the very next one.
 */
export const grantMechanisms = ['binding', 'credential', 'webhook'] as const;
export type GrantMechanism = (typeof grantMechanisms)[number];

/** The namespace a cluster's per-grant ServiceAccounts live in unless it says otherwise. */
export const defaultCredentialNamespace = 'elevate-grants';

/** A request's ServiceAccount in each cluster it names: one per cluster, named after the request. */
export interface CredentialAccount {
  cluster: string;
  namespace: string;
  name: string;
}

export const credentialAccountName = (requestId: string) => `elevate-${requestId}`;

export const sameAccount = (a: CredentialAccount, b: CredentialAccount) =>
  a.cluster === b.cluster && a.namespace === b.namespace && a.name === b.name;

/** The mechanism a request was granted by; requests made before there was a choice are bindings. */
export function mechanismOf(request: Pick<AccessRequest, 'spec'>): GrantMechanism {
  return request.spec.mechanism ?? (request.spec.credentialNamespaces ? 'credential' : 'binding');
}

/**
 * The spec once the request has its id: with `credential`, each cluster's bindings name the grant's own
 * ServiceAccount there instead of the person.
 */
export function withCredentialSubjects(spec: AccessRequestSpec, requestId: string): AccessRequestSpec {
  const namespaces = spec.credentialNamespaces;
  if (!namespaces) return spec;
  const name = credentialAccountName(requestId);
  const subjects = Object.fromEntries(
    Object.entries(namespaces).map(([cluster, namespace]) => [
      cluster,
      { kind: 'ServiceAccount' as const, name, namespace },
    ]),
  );
  return { ...spec, subjects };
}

/** The ServiceAccounts a credential grant stands behind; none for a binding grant. */
export function credentialAccounts(request: Pick<AccessRequest, 'id' | 'spec'>): CredentialAccount[] {
  const name = credentialAccountName(request.id);
  return Object.entries(request.spec.credentialNamespaces ?? {}).map(([cluster, namespace]) => ({
    cluster,
    namespace,
    name,
  }));
}

/** A grant's ServiceAccount as Elevate wants it: labelled and annotated like its bindings. */
export interface DesiredAccount extends CredentialAccount {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export function desiredAccounts(request: AccessRequest): DesiredAccount[] {
  return credentialAccounts(request).map((account) => ({
    ...account,
    labels: { [managedByLabel]: managedByValue, [requestLabel]: request.id },
    annotations: {
      'elevate.dev/request': request.id,
      'elevate.dev/user': request.spec.requester,
      'elevate.dev/reason': request.spec.reason,
    },
  }));
}

/** A short-lived token of a grant's ServiceAccount, with what a kubeconfig needs to use it. */
export interface IssuedToken {
  token: string;
  expiresAt: Date;
  server: string;
  /** Base64 PEM of the API server's CA; null: the system's trust store. */
  caData: string | null;
}
