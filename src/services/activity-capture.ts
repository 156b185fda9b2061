import { type ActivityRecord, attribute, type GrantWindow, grantWindows } from '../domain/activity.js';
import { type AuditEventInput, systemActor } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import type { Store } from './ports.js';

export interface ActivityCaptureDeps {
  store: Pick<Store, 'listRequests' | 'auditHead' | 'recordActivity'>;
  clock: Clock;
  /** Told how many events of a batch were attributed to grants and how many dropped. */
  onIngested?: (cluster: string, attributed: number, dropped: number) => void;
}

export interface IngestResult {
  received: number;
  attributed: number;
  /** Attributed and new (a batch the API server sent again records nothing twice). */
  recorded: number;
}

/** How long a grant that ended still takes actions: the API server sends its audit events in batches. */
const endedRetainedMs = 10 * 60_000;
/** Actions listed per GrantActivity audit event; the rest are counted (all are in the activity table). */
const actionsPerEvent = 100;

/**
 * Activity capture: the API servers' audit events (their audit webhook backend) attributed to grants. An
 * index of who holds which grant on which cluster is kept in memory and brought up to date from the store's
 * change cursor before each batch is judged, so a grant activated a moment before its holder acted is
 * known. Attributed actions are stored before the batch is answered, with one GrantActivity audit event
 * per grant and batch in the same transaction: an answered batch is never lost.
 */
export function createActivityCapture({ store, clock, onIngested }: ActivityCaptureDeps) {
  const byRequest = new Map<string, GrantWindow[]>();
  /** cluster -> API-server username -> windows: what attribute() looks up per event. */
  let byUser = new Map<string, Map<string, GrantWindow[]>>();
  let cursor: number | null = null;
  let refreshing: { startedAt: number; done: Promise<void> } | null = null;

  function rebuild(now: number): void {
    const next = new Map<string, Map<string, GrantWindow[]>>();
    for (const [id, windows] of byRequest) {
      const live = windows.filter((w) => w.until > now - endedRetainedMs);
      if (live.length === 0) byRequest.delete(id);
      for (const w of live) {
        const users = next.get(w.cluster) ?? new Map<string, GrantWindow[]>();
        next.set(w.cluster, users);
        users.set(w.user, [...(users.get(w.user) ?? []), w]);
      }
    }
    byUser = next;
  }

  async function load(): Promise<void> {
    // The head first: a change committed while the requests are read is read again next time, not missed.
    const head = (await store.auditHead())?.seq ?? 0;
    // At start: the grants active now, and those that ended within the retention (their last batches
    // may still be on their way from the API server).
    const changed =
      cursor === null
        ? [
            ...(await store.listRequests({ phases: ['Active'] })),
            ...(await store.listRequests({
              phases: ['Expired', 'Revoked'],
              updatedAfter: new Date(clock.now().getTime() - endedRetainedMs),
            })),
          ]
        : await store.listRequests({ changedAfterSeq: cursor });
    for (const request of changed) {
      const windows = grantWindows(request);
      if (windows.length > 0) byRequest.set(request.id, windows);
      else byRequest.delete(request.id);
    }
    cursor = head;
    if (changed.length > 0 || byRequest.size > 0) rebuild(clock.now().getTime());
  }

  /** An index at least as new as `since`: one read of the store's changes, shared by concurrent batches. */
  async function freshSince(since: number): Promise<void> {
    while (refreshing && refreshing.startedAt < since) await refreshing.done.catch(() => {});
    if (refreshing) return refreshing.done;
    const current = { startedAt: performance.now(), done: load() };
    refreshing = current;
    try {
      await current.done;
    } finally {
      if (refreshing === current) refreshing = null;
    }
  }

  function summarize(recorded: ActivityRecord[]): AuditEventInput[] {
    const perGrant = new Map<string, ActivityRecord[]>();
    for (const r of recorded) perGrant.set(r.requestId, [...(perGrant.get(r.requestId) ?? []), r]);
    const now = clock.now();
    return [...perGrant].map(([requestId, actions]) => ({
      time: now,
      actor: systemActor,
      action: 'GrantActivity',
      requestId,
      cluster: actions[0]?.cluster ?? null,
      details: {
        count: actions.length,
        viaGrant: actions.filter((a) => a.viaGrant).length,
        actions: actions.slice(0, actionsPerEvent).map((a) => ({
          time: a.time.toISOString(),
          user: a.user,
          ...(a.impersonator ? { impersonator: a.impersonator } : {}),
          verb: a.verb,
          resource: a.resource,
          subresource: a.subresource,
          namespace: a.namespace,
          name: a.name,
          code: a.code,
          viaGrant: a.viaGrant,
          auditId: a.auditId,
        })),
        ...(actions.length > actionsPerEvent ? { more: actions.length - actionsPerEvent } : {}),
      },
    }));
  }

  return {
    /** Judges one batch of a cluster's audit events and records the actions taken under grants. */
    async ingest(cluster: string, events: unknown[]): Promise<IngestResult> {
      await freshSince(performance.now());
      const users = byUser.get(cluster);
      const attributed: ActivityRecord[] = [];
      if (users) {
        const windowsOf = (user: string) => users.get(user);
        for (const event of events) {
          if (event === null || typeof event !== 'object') continue;
          const record = attribute(cluster, event as Record<string, unknown>, windowsOf);
          if (record) attributed.push(record);
        }
      }
      const recorded = await store.recordActivity(attributed, summarize);
      onIngested?.(cluster, attributed.length, events.length - attributed.length);
      return { received: events.length, attributed: attributed.length, recorded };
    },
  };
}

export type ActivityCapture = ReturnType<typeof createActivityCapture>;
