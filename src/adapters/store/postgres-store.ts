import { Kysely, PostgresDialect, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import type { Store } from '../../services/ports.js';
import { createKyselyStore } from './kysely-store.js';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';

// Any fixed number: the key of the advisory lock that orders appends to the audit hash chain.
const auditChainLock = 7_304_811;
// The first half of the two-key advisory locks taken per request across servers (the second is a hash of
// the request id). PostgreSQL keeps one-key and two-key advisory locks apart, so this cannot collide with
// the audit chain's lock or the lease's.
const requestLockSpace = 7_304_813;
// As many as the grant scheduler settles at once, so a burst of expiries is not throttled further here.
const requestLockConnections = 32;

/** The store on PostgreSQL, for deployments that outgrow one SQLite file. `url` is a postgres:// URL. */
export async function openPostgresStore(url: string): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
    if (error) throw error;
  } catch (e) {
    await db.destroy();
    throw e;
  }
  // A pool of its own: a lock holder also needs the main pool for its reads and writes, so holders sharing
  // that pool could take every connection and wait for one forever.
  const lockPool = new pg.Pool({
    connectionString: url,
    max: requestLockConnections,
    keepAlive: true,
    // A server whose host dies must not keep a request locked for hours of default TCP timeouts.
    // Not idle_session_timeout: a holder waits idle on its session for as long as its cluster call takes.
    options:
      '-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 -c tcp_user_timeout=11000',
  });
  lockPool.on('error', () => {}); // an idle connection that broke is dropped by the pool; nothing to do
  const store = createKyselyStore(db, {
    lockAuditChain: async (trx) => {
      // Held until commit: the next writer reads the chain's head only after this one's events are
      // visible, so seqs are assigned in commit order with no gaps (the change cursor relies on it).
      await sql`select pg_advisory_xact_lock(${auditChainLock})`.execute(trx);
    },
    async lockAcrossServers(key, work) {
      const client = await lockPool.connect();
      const keys = [requestLockSpace, key];
      try {
        await client.query('select pg_advisory_lock($1, hashtext($2))', keys);
      } catch (e) {
        client.release(true);
        throw e;
      }
      try {
        return await work();
      } finally {
        // A connection that cannot unlock is closed rather than reused: ending its session releases the lock.
        const unlocked = await client.query('select pg_advisory_unlock($1, hashtext($2))', keys).then(
          () => true,
          () => false,
        );
        client.release(!unlocked);
      }
    },
  });
  return {
    ...store,
    async close() {
      await store.close();
      await lockPool.end();
    },
  };
}
