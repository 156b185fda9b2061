import type { Kysely } from 'kysely';
import { type BreakglassMode, offMode, type Review } from '../../domain/breakglass.js';
import { StaleWrite } from '../../domain/errors.js';
import type { Store } from '../../services/ports.js';
import type { AppendEvents, Database, ReviewsTable } from './schema.js';

type EmergencyRows = Pick<
  Store,
  | 'getReview'
  | 'findReviewByRequest'
  | 'listReviews'
  | 'saveReview'
  | 'getBreakglassMode'
  | 'saveBreakglassMode'
  | 'rememberCallback'
>;

const modeRowId = 1;

/** Post-incident reviews, the ticket-system-down mode and the callback replay guard. */
export function emergencyRows(db: Kysely<Database>, appendEvents: AppendEvents): EmergencyRows {
  return {
    async getReview(id) {
      const row = await db.selectFrom('reviews').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? reviewFromRow(row) : null;
    },

    async findReviewByRequest(requestId) {
      const row = await db
        .selectFrom('reviews')
        .selectAll()
        .where('request_id', '=', requestId)
        .executeTakeFirst();
      return row ? reviewFromRow(row) : null;
    },

    async listReviews(filter) {
      let q = db.selectFrom('reviews').selectAll().orderBy('opened_at').orderBy('id');
      if (filter.state) q = q.where('state', '=', filter.state);
      return (await q.execute()).map(reviewFromRow);
    },

    async saveReview(review, events) {
      return db.transaction().execute(async (trx) => {
        const next = { ...review, version: review.version + 1 };
        const result = await trx
          .updateTable('reviews')
          .set(reviewToRow(next))
          .where('id', '=', review.id)
          .where('version', '=', review.version)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) !== 1) {
          throw new StaleWrite(`review ${review.id} was changed by someone else; try again`);
        }
        await appendEvents(trx, events);
        return next;
      });
    },

    async getBreakglassMode() {
      const row = await db
        .selectFrom('breakglass_mode')
        .selectAll()
        .where('id', '=', modeRowId)
        .executeTakeFirst();
      if (!row) return offMode;
      return {
        on: row.is_on === 1,
        since: row.since ? new Date(row.since) : null,
        until: row.until ? new Date(row.until) : null,
        by: row.by_user,
        reason: row.reason,
        version: row.version,
      };
    },

    async saveBreakglassMode(mode, events) {
      return db.transaction().execute(async (trx) => {
        const next: BreakglassMode = { ...mode, version: mode.version + 1 };
        const row = {
          is_on: next.on ? 1 : 0,
          since: next.since?.toISOString() ?? null,
          until: next.until?.toISOString() ?? null,
          by_user: next.by,
          reason: next.reason,
          version: next.version,
        };
        let saved: boolean;
        if (mode.version === 0) {
          // Never stored: the first save inserts; a concurrent first save hits the primary key.
          const existing = await trx
            .selectFrom('breakglass_mode')
            .select('id')
            .where('id', '=', modeRowId)
            .executeTakeFirst();
          saved = !existing;
          if (saved)
            await trx
              .insertInto('breakglass_mode')
              .values({ id: modeRowId, ...row })
              .execute();
        } else {
          const result = await trx
            .updateTable('breakglass_mode')
            .set(row)
            .where('id', '=', modeRowId)
            .where('version', '=', mode.version)
            .executeTakeFirst();
          saved = Number(result.numUpdatedRows) === 1;
        }
        if (!saved) throw new StaleWrite('the break-glass mode was changed by someone else; try again');
        await appendEvents(trx, events);
        return next;
      });
    },

    async rememberCallback(provider, digest, at, forgetBefore) {
      return db.transaction().execute(async (trx) => {
        await trx
          .deleteFrom('ticket_callbacks')
          .where('received_at', '<', forgetBefore.toISOString())
          .execute();
        const seen = await trx
          .selectFrom('ticket_callbacks')
          .select('digest')
          .where('provider', '=', provider)
          .where('digest', '=', digest)
          .executeTakeFirst();
        if (seen) return false;
        await trx
          .insertInto('ticket_callbacks')
          .values({ provider, digest, received_at: at.toISOString() })
          .execute();
        return true;
      });
    },
  };
}

export function reviewToRow(r: Review): ReviewsTable {
  return {
    id: r.id,
    request_id: r.requestId,
    user_name: r.user,
    kind: r.kind,
    state: r.state,
    opened_at: r.openedAt.toISOString(),
    due_at: r.dueAt.toISOString(),
    outcome: r.outcome,
    notes: r.notes,
    completed_by: r.completedBy,
    completed_at: r.completedAt?.toISOString() ?? null,
    overdue_notified_at: r.overdueNotifiedAt?.toISOString() ?? null,
    version: r.version,
  };
}

function reviewFromRow(r: ReviewsTable): Review {
  const date = (s: string | null) => (s ? new Date(s) : null);
  return {
    id: r.id,
    requestId: r.request_id,
    user: r.user_name,
    kind: r.kind as Review['kind'],
    state: r.state as Review['state'],
    openedAt: new Date(r.opened_at),
    dueAt: new Date(r.due_at),
    outcome: r.outcome as Review['outcome'],
    notes: r.notes,
    completedBy: r.completed_by,
    completedAt: date(r.completed_at),
    overdueNotifiedAt: date(r.overdue_notified_at),
    version: r.version,
  };
}
