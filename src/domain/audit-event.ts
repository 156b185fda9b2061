/** One entry of the audit trail. Events are chained by hash so any edit or deletion shows. */
export interface AuditEventInput {
  time: Date;
  /** The user who acted, or "system:elevate" for Elevate's own jobs. */
  actor: string;
  action: string;
  requestId: string | null;
  cluster: string | null;
  details: Record<string, unknown>;
}

export interface AuditEvent extends AuditEventInput {
  seq: number;
  prevHash: string;
  hash: string;
}

export const systemActor = 'system:elevate';

/**
 * The event recording `action` on a request: it names the request and its cluster (null when its targets
 * span several; the details then name them).
 */
export function requestEvent(
  request: { id: string; spec: { targets: { cluster: string }[] } },
  actor: string,
  action: string,
  time: Date,
  details: Record<string, unknown> = {},
): AuditEventInput {
  const clusters = new Set(request.spec.targets.map((t) => t.cluster));
  const cluster = clusters.size === 1 ? [...clusters][0] : null;
  return { time, actor, action, requestId: request.id, cluster: cluster ?? null, details };
}

/** An event Elevate records of its own accord, about no one request (a reload, a refused call). */
export function systemEvent(time: Date, action: string, details: Record<string, unknown>): AuditEventInput {
  return { time, actor: systemActor, action, requestId: null, cluster: null, details };
}
