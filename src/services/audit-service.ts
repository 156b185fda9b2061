import type { AuditEvent } from '../domain/audit-event.js';
import { Forbidden } from '../domain/errors.js';
import type { Identity } from '../domain/identity.js';
import type { AuditHead, Store } from './ports.js';

export interface AuditServiceDeps {
  store: Pick<Store, 'listAudit' | 'verifyAuditChain' | 'auditHead' | 'getOutboxStatus' | 'listOutboxSkips'>;
  isAdmin: (who: Identity) => boolean;
  /** The configured audit sinks and their cursors' names. */
  sinks?: { name: string; type: string; consumer: string }[];
  now?: () => Date;
}

/** How one audit sink is doing, as stored: any server can tell, though only the leader delivers. */
export interface SinkStatus {
  name: string;
  type: string;
  /** The seq of the last event the sink confirmed; null before its first delivery pass. */
  cursor: number | null;
  lagEvents: number;
  /** Age of the oldest event it has not confirmed; 0 when caught up. */
  lagSeconds: number;
  failures: number;
  lastError: string | null;
  lastErrorAt: string | null;
  lastDeliveredAt: string | null;
  /** The event it keeps refusing and how often it has, until it takes it or it is skipped. */
  refusing: { seq: number; attempts: number } | null;
  skipped: number;
  /** The newest skips (at most 5). */
  recentSkips: { seq: number; error: string; skippedAt: string }[];
}

export interface AuditVerification {
  /** The chain recomputes from the first event, and (when asked) the expected head is still in it. */
  intact: boolean;
  firstBrokenSeq: number | null;
  /** The newest event now: an outside witness keeps it to detect a later truncation. */
  head: AuditHead | null;
  /** Whether an event with exactly this seq and hash is still in the trail. */
  expectedHead?: AuditHead & { present: boolean };
}

export type AuditService = ReturnType<typeof createAuditService>;

/**
 * Reading and checking the audit trail, for admins only. A hash chain shows an edited or deleted event
 * anywhere but at its end: deleting the newest events leaves a shorter chain that still verifies. So
 * verify reports the head, and checks a head recorded earlier by someone outside (`expectHead`).
 */
export function createAuditService({ store, isAdmin, sinks = [], now = () => new Date() }: AuditServiceDeps) {
  function assertAdmin(who: Identity): void {
    if (!isAdmin(who)) throw new Forbidden(`${who.user} may not read the audit trail (auth.admins only)`);
  }

  return {
    async export(who: Identity): Promise<AuditEvent[]> {
      assertAdmin(who);
      return store.listAudit();
    },

    async sinks(who: Identity): Promise<SinkStatus[]> {
      assertAdmin(who);
      const head = (await store.auditHead())?.seq ?? 0;
      return Promise.all(
        sinks.map(async ({ name, type, consumer }): Promise<SinkStatus> => {
          const status = await store.getOutboxStatus(consumer);
          // Never placed yet: a sink starting at the beginning owes everything; one starting now, nothing.
          const cursor = status?.seq ?? null;
          const lagEvents = Math.max(0, head - (cursor ?? 0));
          const [oldest] = lagEvents > 0 ? await store.listAudit({ afterSeq: cursor ?? 0, limit: 1 }) : [];
          const skips = status && status.skipped > 0 ? await store.listOutboxSkips(consumer, 5) : [];
          return {
            name,
            type,
            cursor,
            lagEvents,
            lagSeconds: oldest ? Math.max(0, (now().getTime() - oldest.time.getTime()) / 1000) : 0,
            failures: status?.failures ?? 0,
            lastError: status?.lastError ?? null,
            lastErrorAt: status?.lastErrorAt?.toISOString() ?? null,
            lastDeliveredAt: status?.deliveredAt?.toISOString() ?? null,
            refusing: status?.poison ?? null,
            skipped: status?.skipped ?? 0,
            recentSkips: skips.map((k) => ({
              seq: k.seq,
              error: k.error,
              skippedAt: k.skippedAt.toISOString(),
            })),
          };
        }),
      );
    },

    async verify(who: Identity, expectHead?: AuditHead): Promise<AuditVerification> {
      assertAdmin(who);
      const firstBrokenSeq = await store.verifyAuditChain();
      const head = await store.auditHead();
      if (!expectHead) return { intact: firstBrokenSeq === null, firstBrokenSeq, head };
      const [event] = await store.listAudit({ afterSeq: expectHead.seq - 1, limit: 1 });
      const present = event?.seq === expectHead.seq && event.hash === expectHead.hash;
      return {
        intact: firstBrokenSeq === null && present,
        firstBrokenSeq,
        head,
        expectedHead: { ...expectHead, present },
      };
    },
  };
}
