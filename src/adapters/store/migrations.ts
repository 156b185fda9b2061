import type { Kysely } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';

/** Migrations live in code so a single binary carries its schema; names sort in apply order. */
const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('access_requests')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('phase', 'text', (c) => c.notNull())
        .addColumn('requester', 'text', (c) => c.notNull())
        .addColumn('cluster', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('spec_json', 'text', (c) => c.notNull())
        .addColumn('policy_json', 'text', (c) => c.notNull())
        .addColumn('approvals_json', 'text', (c) => c.notNull())
        .addColumn('grant_json', 'text')
        .addColumn('revocation_json', 'text')
        .addColumn('message', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('access_requests_phase').on('access_requests').column('phase').execute();
      await db.schema
        .createIndex('access_requests_requester')
        .on('access_requests')
        .columns(['requester', 'created_at'])
        .execute();
      await db.schema
        .createTable('audit_events')
        .addColumn('seq', 'integer', (c) => c.primaryKey())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('cluster', 'text')
        .addColumn('details_json', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .execute();
      await db.schema.createIndex('audit_events_request').on('audit_events').column('request_id').execute();
    },
  },
  // Extensions of Active grants (a JSON list); requests saved before there were any have none.
  '0002_extensions': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('access_requests')
        .addColumn('extensions_json', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
    },
  },
  // Identities Elevate keeps itself: integrations' API tokens (digests only) and TOTP enrolments (sealed).
  '0003_identities': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('api_tokens')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('digest', 'text', (c) => c.notNull().unique())
        .addColumn('groups_json', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('last_used_at', 'text')
        .addColumn('revoked_at', 'text')
        .addColumn('revoked_by', 'text')
        .execute();
      await db.schema
        .createTable('mfa_enrolments')
        .addColumn('user_name', 'text', (c) => c.primaryKey())
        .addColumn('sealed_secret', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('confirmed_at', 'text')
        .addColumn('last_step', 'integer')
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('locked_until', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
