import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { Store } from '../../services/ports.js';
import { createKyselyStore } from './kysely-store.js';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';

/** Distinct SQL texts kept prepared; the store issues a few dozen, so this only bounds the unexpected. */
const maxCachedStatements = 256;

/**
 * Kysely's SQLite driver prepares every query anew, and SQLite compiling the same statement again was a
 * large share of Elevate's CPU in a burst of expiries. A statement is reusable once run (the driver runs
 * each to completion synchronously; nothing here streams), so each SQL text is prepared once.
 */
function withStatementCache(sqlite: SqliteDatabase.Database) {
  const prepared = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = prepared.get(sql);
      if (!statement) {
        if (prepared.size >= maxCachedStatements) prepared.delete(prepared.keys().next().value as string);
        statement = sqlite.prepare(sql);
        prepared.set(sql, statement);
      }
      return statement;
    },
  };
}

export async function openSqliteStore(path: string): Promise<Store> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SqliteDatabase(path);
  sqlite.pragma('journal_mode = WAL');
  // FULL: a committed grant or audit event survives a power cut, not only a crash.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) throw error;
  return createKyselyStore(db);
}
