export type RoleKind = 'ClusterRole' | 'Role';

/** One thing a request asks for: a role bound in a namespace (or cluster-wide) on one cluster. */
export interface Target {
  cluster: string;
  /** null means cluster-wide (a ClusterRoleBinding). */
  namespace: string | null;
  role: string;
  roleKind: RoleKind;
}

/** A stable key for a target, for maps and for facts fetched per target (role rules). */
export function targetKey(t: Target): string {
  return `${t.cluster}/${t.namespace ?? '*'}/${t.roleKind}/${t.role}`;
}

/** A target the way people read it: "ClusterRole edit in namespace payments on cluster dev". */
export function describeTarget(t: Target): string {
  const scope = t.namespace === null ? 'cluster-wide' : `in namespace ${t.namespace}`;
  return `${t.roleKind} ${t.role} ${scope} on cluster ${t.cluster}`;
}

/** The key of a target's namespace in facts fetched per namespace (live labels). */
export function namespaceKey(cluster: string, namespace: string): string {
  return `${cluster}/${namespace}`;
}
