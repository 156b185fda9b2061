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
  // Tickets and emergencies: the request's validated ticket, its emergency (break-glass, tickets waived) and
  // the key that makes a request from outside idempotent; post-incident reviews; the fleet-wide
  // ticket-system-down mode; callbacks already seen (replay guard); the outbox relay's cursors; and the
  // identities seen signing in (whose groups an integration's request for someone is judged with).
  '0004_tickets_breakglass': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('access_requests').addColumn('external_key', 'text').execute();
      await db.schema.alterTable('access_requests').addColumn('ticket_json', 'text').execute();
      await db.schema.alterTable('access_requests').addColumn('emergency_json', 'text').execute();
      await db.schema
        .createIndex('access_requests_external_key')
        .on('access_requests')
        .column('external_key')
        .unique()
        .execute();
      await db.schema
        .createTable('reviews')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('request_id', 'text', (c) => c.notNull().unique())
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('opened_at', 'text', (c) => c.notNull())
        .addColumn('due_at', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text')
        .addColumn('notes', 'text')
        .addColumn('completed_by', 'text')
        .addColumn('completed_at', 'text')
        .addColumn('overdue_notified_at', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('reviews_state').on('reviews').columns(['state', 'due_at']).execute();
      await db.schema
        .createTable('breakglass_mode')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('is_on', 'integer', (c) => c.notNull())
        .addColumn('since', 'text')
        .addColumn('until', 'text')
        .addColumn('by_user', 'text')
        .addColumn('reason', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('ticket_callbacks')
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('ticket_callbacks_pk', ['provider', 'digest'])
        .execute();
      await db.schema
        .createTable('outbox_cursors')
        .addColumn('consumer', 'text', (c) => c.primaryKey())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('known_identities')
        .addColumn('user_name', 'text', (c) => c.primaryKey())
        .addColumn('groups_json', 'text', (c) => c.notNull())
        .addColumn('source_json', 'text', (c) => c.notNull())
        .addColumn('seen_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0005_audit_sinks': {
    async up(db: Kysely<unknown>) {
      // How each outbox consumer is doing, readable by every server (the relay runs on the leader only).
      const cursors = () => db.schema.alterTable('outbox_cursors');
      await cursors()
        .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await cursors().addColumn('last_error', 'text').execute();
      await cursors().addColumn('last_error_at', 'text').execute();
      await cursors().addColumn('delivered_at', 'text').execute();
      // The event a consumer keeps refusing, and how often it has: survives a restart or a new leader.
      await cursors().addColumn('poison_seq', 'integer').execute();
      await cursors()
        .addColumn('poison_attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createTable('outbox_skips')
        .addColumn('consumer', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('error', 'text', (c) => c.notNull())
        .addColumn('skipped_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('outbox_skips_pk', ['consumer', 'seq'])
        .execute();
    },
  },
  '0006_grant_activity': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('grant_activity')
        // The API server's auditID: a batch it sends again is recorded once.
        .addColumn('audit_id', 'text', (c) => c.primaryKey())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('cluster', 'text', (c) => c.notNull())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('impersonator', 'text')
        .addColumn('verb', 'text', (c) => c.notNull())
        .addColumn('api_group', 'text')
        .addColumn('resource', 'text')
        .addColumn('subresource', 'text')
        .addColumn('namespace', 'text')
        .addColumn('name', 'text')
        .addColumn('uri', 'text')
        .addColumn('code', 'integer')
        .addColumn('user_agent', 'text')
        .addColumn('source_ips_json', 'text', (c) => c.notNull())
        .addColumn('via_grant', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('grant_activity_request')
        .on('grant_activity')
        .columns(['request_id', 'time'])
        .execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
