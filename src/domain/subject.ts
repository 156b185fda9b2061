import { Forbidden } from './errors.js';
import { type Identity, sourceOf } from './identity.js';

/** Who a binding names: exactly the name the cluster's API server gives the person. */
export type BindingSubject =
  | { kind: 'User'; name: string }
  | { kind: 'ServiceAccount'; name: string; namespace: string };

/** How one cluster's API server names the people of Elevate's OIDC issuer (clusters[].subjects). */
export interface SubjectNaming {
  /** What the cluster puts before an OIDC user's name (--oidc-username-prefix / claimMappings.username.prefix). */
  userPrefix: string;
  /** The same for groups (--oidc-groups-prefix / claimMappings.groups.prefix). */
  groupPrefix: string;
}

export const noPrefixes: SubjectNaming = { userPrefix: '', groupPrefix: '' };

const serviceAccountUser = /^system:serviceaccount:([^:]+):([^:]+)$/;

/**
 * The subject a binding in `cluster` names for `identity`. Only OIDC names are prefixed: the token file and
 * API tokens are Elevate's own, so no API server maps them. A ServiceAccount is a principal of its own
 * cluster; the same name in another cluster is another account, so it is never granted there.
 */
export function clusterSubject(identity: Identity, cluster: string, naming: SubjectNaming): BindingSubject {
  const source = sourceOf(identity);
  if (source.kind === 'oidc') return { kind: 'User', name: `${naming.userPrefix}${identity.user}` };
  if (source.kind === 'kubernetes') {
    const match = serviceAccountUser.exec(identity.user);
    if (!match?.[1] || !match[2]) return { kind: 'User', name: identity.user };
    if (source.cluster !== cluster) {
      throw new Forbidden(
        `${identity.user} is a ServiceAccount of cluster ${source.cluster}; it cannot be granted access in cluster ${cluster}`,
      );
    }
    return { kind: 'ServiceAccount', namespace: match[1], name: match[2] };
  }
  return { kind: 'User', name: identity.user };
}

export function describeSubject(s: BindingSubject): string {
  return s.kind === 'User' ? `User ${s.name}` : `ServiceAccount ${s.namespace}/${s.name}`;
}
