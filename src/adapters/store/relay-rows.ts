import type { Kysely, Selectable } from 'kysely';
import type { KnownIdentity, Store } from '../../services/ports.js';
import type { AppendEvents, Database } from './schema.js';

type RelayRows = Pick<
  Store,
  | 'getOutboxCursor'
  | 'saveOutboxCursor'
  | 'getOutboxStatus'
  | 'recordOutboxFailure'
  | 'skipOutboxEvent'
  | 'listOutboxSkips'
  | 'recordIdentitySeen'
  | 'getKnownIdentity'
  | 'listKnownIdentities'
>;

/**
 * The outbox relay's cursors with how each consumer is doing, and the identities seen signing in. Plain
 * upserts without audit events, but for a skipped event, whose audit goes in the same transaction.
 */
export function relayRows(db: Kysely<Database>, appendEvents: AppendEvents): RelayRows {
  return {
    async getOutboxCursor(consumer) {
      const row = await db
        .selectFrom('outbox_cursors')
        .select('seq')
        .where('consumer', '=', consumer)
        .executeTakeFirst();
      return row ? Number(row.seq) : null;
    },

    async saveOutboxCursor(consumer, seq, at) {
      const moved = { seq, updated_at: at.toISOString(), delivered_at: at.toISOString(), failures: 0 };
      await db
        .insertInto('outbox_cursors')
        .values({ consumer, ...moved })
        .onConflict((oc) => oc.column('consumer').doUpdateSet(moved))
        .execute();
    },

    async getOutboxStatus(consumer) {
      const row = await db
        .selectFrom('outbox_cursors')
        .selectAll()
        .where('consumer', '=', consumer)
        .executeTakeFirst();
      if (!row) return null;
      const skips = await db
        .selectFrom('outbox_skips')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('consumer', '=', consumer)
        .executeTakeFirst();
      const seq = Number(row.seq);
      const poisonSeq = row.poison_seq === null ? null : Number(row.poison_seq);
      return {
        consumer,
        seq,
        failures: Number(row.failures),
        lastError: row.last_error,
        lastErrorAt: row.last_error_at ? new Date(row.last_error_at) : null,
        deliveredAt: row.delivered_at ? new Date(row.delivered_at) : null,
        // Once the cursor is past it the event went through after all (or was skipped): no longer poison.
        poison:
          poisonSeq !== null && poisonSeq > seq
            ? { seq: poisonSeq, attempts: Number(row.poison_attempts) }
            : null,
        skipped: Number(skips?.n ?? 0),
      };
    },

    async recordOutboxFailure(consumer, { error, at, refusedSeq }) {
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('outbox_cursors')
          .select(['failures', 'poison_seq', 'poison_attempts'])
          .where('consumer', '=', consumer)
          .executeTakeFirst();
        const failures = Number(row?.failures ?? 0) + 1;
        const samePoison = refusedSeq !== undefined && Number(row?.poison_seq) === refusedSeq;
        const attempts = refusedSeq === undefined ? 0 : samePoison ? Number(row?.poison_attempts) + 1 : 1;
        await trx
          .updateTable('outbox_cursors')
          .set({
            failures,
            last_error: error,
            last_error_at: at.toISOString(),
            ...(refusedSeq === undefined ? {} : { poison_seq: refusedSeq, poison_attempts: attempts }),
          })
          .where('consumer', '=', consumer)
          .execute();
        return { failures, attempts };
      });
    },

    async skipOutboxEvent(consumer, { seq, error, at }, events) {
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('outbox_skips')
          .values({ consumer, seq, error, skipped_at: at.toISOString() })
          .onConflict((oc) => oc.columns(['consumer', 'seq']).doNothing())
          .execute();
        await trx
          .updateTable('outbox_cursors')
          .set({ seq, updated_at: at.toISOString(), poison_seq: null, poison_attempts: 0 })
          .where('consumer', '=', consumer)
          .where('seq', '<', seq)
          .execute();
        await appendEvents(trx, events);
      });
    },

    async listOutboxSkips(consumer, limit) {
      const rows = await db
        .selectFrom('outbox_skips')
        .selectAll()
        .where('consumer', '=', consumer)
        .orderBy('seq', 'desc')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ seq: Number(r.seq), error: r.error, skippedAt: new Date(r.skipped_at) }));
    },

    async recordIdentitySeen({ user, groups, source, seenAt }) {
      const row = {
        groups_json: JSON.stringify(groups),
        source_json: JSON.stringify(source),
        seen_at: seenAt.toISOString(),
      };
      await db
        .insertInto('known_identities')
        .values({ user_name: user, ...row })
        .onConflict((oc) => oc.column('user_name').doUpdateSet(row))
        .execute();
    },

    async getKnownIdentity(user) {
      const row = await db
        .selectFrom('known_identities')
        .selectAll()
        .where('user_name', '=', user)
        .executeTakeFirst();
      return row ? knownIdentity(row) : null;
    },

    async listKnownIdentities() {
      const rows = await db.selectFrom('known_identities').selectAll().orderBy('user_name').execute();
      return rows.map(knownIdentity);
    },
  };
}

function knownIdentity(row: Selectable<Database['known_identities']>): KnownIdentity {
  return {
    user: row.user_name,
    groups: JSON.parse(row.groups_json),
    source: JSON.parse(row.source_json),
    seenAt: new Date(row.seen_at),
  };
}
