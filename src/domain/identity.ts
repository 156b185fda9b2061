/**
 * Where an identity was established. It decides how the person is named in a cluster's bindings (an OIDC
 * user carries that cluster's prefix; a ServiceAccount is bound as one, in its own cluster only).
 */
export type IdentitySource =
  | { kind: 'token-file' }
  | { kind: 'oidc'; issuer: string }
  | { kind: 'kubernetes'; cluster: string }
  | { kind: 'api-token'; name: string };

/** Who is calling, as established by an authenticator. */
export interface Identity {
  user: string;
  uid?: string;
  groups: string[];
  /** Absent means the token file, the only source identities had before there were several. */
  source?: IdentitySource;
}

/** A set of users and groups, as written in config (approvers, admins). */
export interface Principals {
  users: string[];
  groups: string[];
}

export function isAmong(identity: Identity, principals: Principals): boolean {
  return (
    principals.users.includes(identity.user) || identity.groups.some((g) => principals.groups.includes(g))
  );
}

export const sourceOf = (identity: Identity): IdentitySource => identity.source ?? { kind: 'token-file' };

/** For people reading `whoami` and the audit trail: "oidc (https://idp…)", "token-file", … */
export function describeSource(source: IdentitySource): string {
  switch (source.kind) {
    case 'oidc':
      return `oidc (${source.issuer})`;
    case 'kubernetes':
      return `kubernetes serviceaccount (cluster ${source.cluster})`;
    case 'api-token':
      return `api token ${source.name}`;
    case 'token-file':
      return 'token-file';
  }
}
