import type { Kysely } from 'kysely';
import type { Store } from '../../services/ports.js';
import type { Database } from './schema.js';

type RelayRows = Pick<
  Store,
  'getOutboxCursor' | 'saveOutboxCursor' | 'recordIdentitySeen' | 'getKnownIdentity'
>;

/** The outbox relay's cursors, and the identities seen signing in. Plain upserts: no audit events. */
export function relayRows(db: Kysely<Database>): RelayRows {
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
      await db
        .insertInto('outbox_cursors')
        .values({ consumer, seq, updated_at: at.toISOString() })
        .onConflict((oc) => oc.column('consumer').doUpdateSet({ seq, updated_at: at.toISOString() }))
        .execute();
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
      if (!row) return null;
      return {
        user: row.user_name,
        groups: JSON.parse(row.groups_json),
        source: JSON.parse(row.source_json),
        seenAt: new Date(row.seen_at),
      };
    },
  };
}
