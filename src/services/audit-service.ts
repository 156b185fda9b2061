import type { AuditEvent } from '../domain/audit-event.js';
import { Forbidden } from '../domain/errors.js';
import type { Identity } from '../domain/identity.js';
import type { AuditHead, Store } from './ports.js';

export interface AuditServiceDeps {
  store: Pick<Store, 'listAudit' | 'verifyAuditChain' | 'auditHead'>;
  isAdmin: (who: Identity) => boolean;
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
export function createAuditService({ store, isAdmin }: AuditServiceDeps) {
  function assertAdmin(who: Identity): void {
    if (!isAdmin(who)) throw new Forbidden(`${who.user} may not read the audit trail (auth.admins only)`);
  }

  return {
    async export(who: Identity): Promise<AuditEvent[]> {
      assertAdmin(who);
      return store.listAudit();
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
