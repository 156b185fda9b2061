/**
 * What people did with their access, from the API server's own audit log: each audit event (audit.k8s.io/v1)
 * by a user who held an active grant, in the grant's scope and window, becomes an ActivityRecord of that
 * grant. Everything else is counted and dropped.
 */

import type { AccessRequest } from './access-request.js';

/** One action taken under a grant. */
export interface ActivityRecord {
  /** The API server's auditID: the same request sent twice (a retried batch) is recorded once. */
  auditId: string;
  requestId: string;
  cluster: string;
  time: Date;
  /** Whose access it was: the impersonated user when the request impersonated. */
  user: string;
  /** Who sent the request while impersonating `user`; null when nobody impersonated. */
  impersonator: string | null;
  verb: string;
  apiGroup: string | null;
  resource: string | null;
  subresource: string | null;
  namespace: string | null;
  name: string | null;
  /** The request URI when the request named no object (a discovery call, /healthz). */
  uri: string | null;
  code: number | null;
  userAgent: string | null;
  sourceIps: string[];
  /** The authorizer allowed it through one of the grant's own bindings (its reason names the binding). */
  viaGrant: boolean;
}

/** When and where one grant's access counted on one cluster, under the name the API server gives its holder. */
export interface GrantWindow {
  requestId: string;
  cluster: string;
  /** The username in the API server's audit events: a User's name, or system:serviceaccount:NS:NAME. */
  user: string;
  /** The namespaces its targets on this cluster cover; null when one of them is cluster-wide. */
  namespaces: Set<string> | null;
  /** The names of its bindings, which the RBAC authorizer's reason names when they allowed a request. */
  bindings: string[];
  from: number;
  /** When access ended (expired, revoked); Infinity while it lasts. */
  until: number;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};

/**
 * The record of `event` under the grant of `windows` it falls in, or null when it is none of theirs.
 * Only events of the ResponseComplete and Panic stages count (the others repeat the same request).
 * `windows` are the grants whose holder is named by the event's user (or impersonated user).
 */
export function attribute(
  cluster: string,
  event: Record<string, unknown>,
  windowsOf: (user: string) => GrantWindow[] | undefined,
): ActivityRecord | null {
  const stage = event.stage;
  if (stage !== 'ResponseComplete' && stage !== 'Panic') return null;
  const actor = str(obj(event.user).username);
  const impersonated = str(obj(event.impersonatedUser).username);
  const user = impersonated ?? actor;
  if (!user) return null;
  const windows = windowsOf(user);
  if (!windows) return null;
  const ref = obj(event.objectRef);
  const namespace = str(ref.namespace);
  const time = Date.parse(String(event.requestReceivedTimestamp ?? event.stageTimestamp ?? ''));
  if (Number.isNaN(time)) return null;
  const window = windows.find(
    (w) =>
      w.from <= time &&
      time < w.until &&
      (w.namespaces === null || (namespace !== null && w.namespaces.has(namespace))),
  );
  if (!window) return null;
  const annotations = obj(event.annotations);
  const reason = String(annotations['authorization.k8s.io/reason'] ?? '');
  const allowed = annotations['authorization.k8s.io/decision'] === 'allow';
  const auditId = str(event.auditID);
  if (!auditId) return null;
  const ips = event.sourceIPs;
  return {
    auditId,
    requestId: window.requestId,
    cluster,
    time: new Date(time),
    user,
    impersonator: impersonated ? actor : null,
    verb: str(event.verb) ?? '',
    apiGroup: str(ref.apiGroup),
    resource: str(ref.resource),
    subresource: str(ref.subresource),
    namespace,
    name: str(ref.name),
    uri: str(ref.resource) ? null : str(event.requestURI),
    code:
      typeof obj(event.responseStatus).code === 'number' ? (obj(event.responseStatus).code as number) : null,
    userAgent: str(event.userAgent),
    sourceIps: Array.isArray(ips) ? ips.filter((ip): ip is string => typeof ip === 'string') : [],
    // RBAC's reason: `RBAC: allowed by RoleBinding "NAME/NS" of ClusterRole "edit" to User "alice"`, or
    // `… by ClusterRoleBinding "NAME" of …` (k8s.io/kubernetes pkg/registry/rbac/validation/rule.go).
    viaGrant: allowed && window.bindings.some((b) => reason.includes(`"${b}/`) || reason.includes(`"${b}"`)),
  };
}

/** A short line per action, for the audit stream's GrantActivity events and the report. */
export function describeAction(a: ActivityRecord): string {
  const what = a.resource
    ? `${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.name ? ` ${a.name}` : ''}`
    : (a.uri ?? '');
  const where = a.namespace ? ` in ${a.namespace}` : '';
  const as = a.impersonator ? ` (impersonated by ${a.impersonator})` : '';
  return `${a.verb} ${what}${where} -> ${a.code ?? '?'}${as}`;
}

/** Where the grant's access counted on each of its clusters; none for a request that was never active. */
export function grantWindows(request: AccessRequest): GrantWindow[] {
  const grant = request.grant;
  if (!grant) return [];
  const ended = request.phase === 'Expired' || request.phase === 'Revoked';
  if (!ended && request.phase !== 'Active') return [];
  const clusters = [...new Set(request.spec.targets.map((t) => t.cluster))];
  return clusters.map((cluster) => {
    const targets = request.spec.targets.filter((t) => t.cluster === cluster);
    const subject = request.spec.subjects?.[cluster];
    const user =
      subject?.kind === 'ServiceAccount'
        ? `system:serviceaccount:${subject.namespace}:${subject.name}`
        : (subject?.name ?? request.spec.requester);
    return {
      requestId: request.id,
      cluster,
      user,
      namespaces: targets.some((t) => t.namespace === null)
        ? null
        : new Set(targets.map((t) => t.namespace as string)),
      bindings: grant.bindings.filter((b) => b.cluster === cluster).map((b) => b.name),
      from: grant.activatedAt.getTime(),
      // The binding was gone by the time the end was saved; an Active grant counts until it is removed.
      until: ended ? request.updatedAt.getTime() : Number.POSITIVE_INFINITY,
    };
  });
}
