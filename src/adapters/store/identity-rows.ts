import type { Kysely } from 'kysely';
import { Conflict, StaleWrite } from '../../domain/errors.js';
import type { ApiTokenRecord, MfaEnrolment, Store } from '../../services/ports.js';
import type { ApiTokensTable, AppendEvents, Database, MfaEnrolmentsTable } from './schema.js';

type IdentityRows = Pick<
  Store,
  | 'createApiToken'
  | 'findApiTokenByDigest'
  | 'listApiTokens'
  | 'revokeApiToken'
  | 'recordApiTokenUse'
  | 'getMfaEnrolment'
  | 'saveMfaEnrolment'
  | 'deleteMfaEnrolment'
>;

/** API tokens and TOTP enrolments, each change written with its audit events in one transaction. */
export function identityRows(db: Kysely<Database>, appendEvents: AppendEvents): IdentityRows {
  return {
    async createApiToken(token, events) {
      await db.transaction().execute(async (trx) => {
        const taken = await trx
          .selectFrom('api_tokens')
          .select('name')
          .where('name', '=', token.name)
          .executeTakeFirst();
        if (taken)
          throw new Conflict(`an API token named ${token.name} exists or existed; pick another name`);
        await trx.insertInto('api_tokens').values(tokenToRow(token)).execute();
        await appendEvents(trx, events);
      });
    },

    async findApiTokenByDigest(digest) {
      const row = await db
        .selectFrom('api_tokens')
        .selectAll()
        .where('digest', '=', digest)
        .executeTakeFirst();
      return row ? tokenFromRow(row) : null;
    },

    async listApiTokens() {
      return (await db.selectFrom('api_tokens').selectAll().orderBy('name').execute()).map(tokenFromRow);
    },

    async revokeApiToken(name, by, at, events) {
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('api_tokens')
          .selectAll()
          .where('name', '=', name)
          .executeTakeFirst();
        if (!row) return null;
        if (row.revoked_at !== null) return tokenFromRow(row);
        await trx
          .updateTable('api_tokens')
          .set({ revoked_at: at.toISOString(), revoked_by: by })
          .where('name', '=', name)
          .where('revoked_at', 'is', null)
          .execute();
        await appendEvents(trx, events);
        return tokenFromRow({ ...row, revoked_at: at.toISOString(), revoked_by: by });
      });
    },

    async recordApiTokenUse(name, at, events) {
      await db.transaction().execute(async (trx) => {
        let update = trx
          .updateTable('api_tokens')
          .set({ last_used_at: at.toISOString() })
          .where('name', '=', name);
        if (events.length > 0) update = update.where('last_used_at', 'is', null);
        const result = await update.executeTakeFirst();
        if (Number(result.numUpdatedRows) === 1) await appendEvents(trx, events);
      });
    },

    async getMfaEnrolment(user) {
      const row = await db
        .selectFrom('mfa_enrolments')
        .selectAll()
        .where('user_name', '=', user)
        .executeTakeFirst();
      return row ? enrolmentFromRow(row) : null;
    },

    async saveMfaEnrolment(enrolment, events) {
      const saved = { ...enrolment, version: enrolment.version + 1 };
      await db.transaction().execute(async (trx) => {
        if (enrolment.version === 0) {
          const exists = await trx
            .selectFrom('mfa_enrolments')
            .select('user_name')
            .where('user_name', '=', enrolment.user)
            .executeTakeFirst();
          if (exists) throw new StaleWrite(`the MFA enrolment of ${enrolment.user} changed; try again`);
          await trx.insertInto('mfa_enrolments').values(enrolmentToRow(saved)).execute();
        } else {
          const result = await trx
            .updateTable('mfa_enrolments')
            .set(enrolmentToRow(saved))
            .where('user_name', '=', enrolment.user)
            .where('version', '=', enrolment.version)
            .executeTakeFirst();
          if (Number(result.numUpdatedRows) !== 1) {
            throw new StaleWrite(`the MFA enrolment of ${enrolment.user} changed; try again`);
          }
        }
        await appendEvents(trx, events);
      });
      return saved;
    },

    async deleteMfaEnrolment(user, events) {
      return db.transaction().execute(async (trx) => {
        const result = await trx
          .deleteFrom('mfa_enrolments')
          .where('user_name', '=', user)
          .executeTakeFirst();
        if (Number(result.numDeletedRows) === 0) return false;
        await appendEvents(trx, events);
        return true;
      });
    },
  };
}

const iso = (d: Date | null) => d?.toISOString() ?? null;
const date = (s: string | null) => (s === null ? null : new Date(s));

function tokenToRow(t: ApiTokenRecord): ApiTokensTable {
  return {
    name: t.name,
    digest: t.digest,
    groups_json: JSON.stringify(t.groups),
    created_at: t.createdAt.toISOString(),
    created_by: t.createdBy,
    expires_at: iso(t.expiresAt),
    last_used_at: iso(t.lastUsedAt),
    revoked_at: iso(t.revokedAt),
    revoked_by: t.revokedBy,
  };
}

function tokenFromRow(r: ApiTokensTable): ApiTokenRecord {
  return {
    name: r.name,
    digest: r.digest,
    groups: JSON.parse(r.groups_json),
    createdAt: new Date(r.created_at),
    createdBy: r.created_by,
    expiresAt: date(r.expires_at),
    lastUsedAt: date(r.last_used_at),
    revokedAt: date(r.revoked_at),
    revokedBy: r.revoked_by,
  };
}

function enrolmentToRow(e: MfaEnrolment): MfaEnrolmentsTable {
  return {
    user_name: e.user,
    sealed_secret: e.sealedSecret,
    created_at: e.createdAt.toISOString(),
    confirmed_at: iso(e.confirmedAt),
    last_step: e.lastStep,
    failures: e.failures,
    locked_until: iso(e.lockedUntil),
    version: e.version,
  };
}

function enrolmentFromRow(r: MfaEnrolmentsTable): MfaEnrolment {
  return {
    user: r.user_name,
    sealedSecret: r.sealed_secret,
    createdAt: new Date(r.created_at),
    confirmedAt: date(r.confirmed_at),
    lastStep: r.last_step === null ? null : Number(r.last_step),
    failures: Number(r.failures),
    lockedUntil: date(r.locked_until),
    version: Number(r.version),
  };
}
