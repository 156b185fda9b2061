import type { AccessRequest } from '../domain/access-request.js';
import type { AuditEventInput } from '../domain/audit-event.js';
import { StaleWrite } from '../domain/errors.js';
import type { RequestChange, Store } from './ports.js';

/**
 * At most this many saves share a transaction. SQLite runs a transaction on the event loop itself, and a
 * burst's other DELETE answers wait behind it; 64 saves take a few milliseconds.
 */
const maxPerTransaction = 64;

/** Saves a changed request with its audit events, like Store.updateRequest (StaleWrite included). */
export type SaveBatcher = (request: AccessRequest, events: AuditEventInput[]) => Promise<AccessRequest>;

interface Waiting {
  change: RequestChange;
  resolve: (saved: AccessRequest) => void;
  reject: (error: Error) => void;
}

/**
 * Saves asked for in the same turn of the event loop go to the store together, in one transaction: when
 * 200 grants expire at once, their DELETE answers arrive a few at a time and each few is one commit (one
 * fsync, one read of the audit chain's head) instead of one each. Every caller still waits for its own
 * save to commit, and a save that fails fails only its own caller (a stale version) or the callers of
 * its transaction (the store failing), who retry as they would have.
 */
export function createSaveBatcher(store: Pick<Store, 'updateRequests'>): SaveBatcher {
  let queue: Waiting[] = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    const batch = queue.slice(0, maxPerTransaction);
    queue = queue.slice(batch.length);
    if (queue.length > 0) schedule();
    store.updateRequests(batch.map((w) => w.change)).then(
      (saved) => {
        for (const [i, w] of batch.entries()) {
          const s = saved[i];
          if (s) w.resolve(s);
          else
            w.reject(new StaleWrite(`request ${w.change.request.id} was changed by someone else; try again`));
        }
      },
      (e: Error) => {
        for (const w of batch) w.reject(e);
      },
    );
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    // After this turn's I/O callbacks: the DELETE answers that arrived together are all queued by then.
    setImmediate(flush);
  }

  return (request, events) =>
    new Promise<AccessRequest>((resolve, reject) => {
      queue.push({ change: { request, events }, resolve, reject });
      schedule();
    });
}
