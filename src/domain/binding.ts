import type { AccessRequest, BindingRef } from './access-request.js';
import type { BindingSubject } from './subject.js';
import type { Target } from './target.js';

export const managedByLabel = 'app.kubernetes.io/managed-by';
export const managedByValue = 'elevate';
export const requestLabel = 'elevate.dev/request';

/** The RBAC object Elevate wants in a cluster for one grant. */
export interface DesiredBinding {
  ref: BindingRef;
  roleRef: { kind: 'ClusterRole' | 'Role'; name: string };
  subjects: BindingSubject[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/**
 * The name of a request's binding for its target at `index`. The first keeps the name single-target
 * requests always had, so bindings written before requests had several targets stay theirs.
 */
export function bindingName(requestId: string, index = 0): string {
  return index === 0 ? `elevate-${requestId}` : `elevate-${requestId}-${index}`;
}

/** The bindings a request's grant consists of: one per target, in target order. */
export function desiredBindings(request: AccessRequest, expiresAt: Date | null): DesiredBinding[] {
  // A webhook grant writes nothing: the cluster's API server asks Elevate instead.
  if (request.spec.mechanism === 'webhook') return [];
  return request.spec.targets.map((target, index) => desiredBinding(request, target, index, expiresAt));
}

function desiredBinding(
  request: AccessRequest,
  target: Target,
  index: number,
  expiresAt: Date | null,
): DesiredBinding {
  const { spec } = request;
  const annotations: Record<string, string> = {
    'elevate.dev/request': request.id,
    'elevate.dev/user': spec.requester,
    'elevate.dev/reason': spec.reason,
  };
  if (spec.ticket) annotations['elevate.dev/ticket'] = spec.ticket;
  if (expiresAt) annotations['elevate.dev/expires-at'] = expiresAt.toISOString();
  return {
    ref: {
      cluster: target.cluster,
      kind: target.namespace === null ? 'ClusterRoleBinding' : 'RoleBinding',
      name: bindingName(request.id, index),
      namespace: target.namespace,
    },
    roleRef: { kind: target.roleKind, name: target.role },
    subjects: [spec.subjects?.[target.cluster] ?? { kind: 'User', name: spec.requester }],
    labels: { [managedByLabel]: managedByValue, [requestLabel]: request.id },
    annotations,
  };
}

/** A binding's subject as a cluster holds it: any kind, not only those Elevate writes. */
export interface ObservedSubject {
  kind: string;
  name: string;
  namespace?: string;
}

/** Whether what is in the cluster grants exactly what was desired (who and what; metadata aside). */
export function grantsSameAccess(
  actual: { roleRef: DesiredBinding['roleRef']; subjects: ObservedSubject[] },
  desired: Pick<DesiredBinding, 'roleRef' | 'subjects'>,
): boolean {
  return (
    actual.roleRef.kind === desired.roleRef.kind &&
    actual.roleRef.name === desired.roleRef.name &&
    actual.subjects.length === desired.subjects.length &&
    actual.subjects.every((s, i) => {
      const d = desired.subjects[i];
      return s.kind === d?.kind && s.name === d.name && (s.namespace ?? null) === namespaceOf(d);
    })
  );
}

const namespaceOf = (s: BindingSubject) => (s.kind === 'ServiceAccount' ? s.namespace : null);

export function bindingKey(ref: BindingRef): string {
  return `${ref.cluster}/${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}
