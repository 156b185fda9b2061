import { Kysely, PostgresDialect, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import type { Store } from '../../services/ports.js';
import { createKyselyStore } from './kysely-store.js';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';

// Any fixed number: the key of the advisory lock that orders appends to the audit hash chain.
const auditChainLock = 7_304_811;

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
  return createKyselyStore(db, {
    lockAuditChain: async (trx) => {
      await sql`select pg_advisory_xact_lock(${auditChainLock})`.execute(trx);
    },
  });
}
