/** Who is calling, as established by an authenticator. */
export interface Identity {
  user: string;
  uid?: string;
  groups: string[];
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
