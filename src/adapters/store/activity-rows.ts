import type { Kysely } from 'kysely';
import type { ActivityRecord } from '../../domain/activity.js';
import type { Store } from '../../services/ports.js';
import type { AppendEvents, Database, GrantActivityTable } from './schema.js';

type ActivityRows = Pick<Store, 'recordActivity' | 'listActivity' | 'countActivity'>;

/** Rows per INSERT: well under SQLite's 32,766 bound parameters (17 columns each). */
const rowsPerInsert = 500;

function toRow(a: ActivityRecord): GrantActivityTable {
  return {
    audit_id: a.auditId,
    request_id: a.requestId,
    cluster: a.cluster,
    time: a.time.toISOString(),
    user_name: a.user,
    impersonator: a.impersonator,
    verb: a.verb,
    api_group: a.apiGroup,
    resource: a.resource,
    subresource: a.subresource,
    namespace: a.namespace,
    name: a.name,
    uri: a.uri,
    code: a.code,
    user_agent: a.userAgent,
    source_ips_json: JSON.stringify(a.sourceIps),
    via_grant: a.viaGrant ? 1 : 0,
  };
}

function fromRow(r: GrantActivityTable): ActivityRecord {
  return {
    auditId: r.audit_id,
    requestId: r.request_id,
    cluster: r.cluster,
    time: new Date(r.time),
    user: r.user_name,
    impersonator: r.impersonator,
    verb: r.verb,
    apiGroup: r.api_group,
    resource: r.resource,
    subresource: r.subresource,
    namespace: r.namespace,
    name: r.name,
    uri: r.uri,
    code: r.code === null ? null : Number(r.code),
    userAgent: r.user_agent,
    sourceIps: JSON.parse(r.source_ips_json),
    viaGrant: Number(r.via_grant) === 1,
  };
}

/** Actions taken under grants (activity capture), with their GrantActivity audit events. */
export function activityRows(db: Kysely<Database>, appendEvents: AppendEvents): ActivityRows {
  return {
    async recordActivity(records, summarize) {
      if (records.length === 0) return 0;
      return db.transaction().execute(async (trx) => {
        const fresh = new Set<string>();
        for (let i = 0; i < records.length; i += rowsPerInsert) {
          const inserted = await trx
            .insertInto('grant_activity')
            .values(records.slice(i, i + rowsPerInsert).map(toRow))
            .onConflict((oc) => oc.column('audit_id').doNothing())
            .returning('audit_id')
            .execute();
          for (const row of inserted) fresh.add(row.audit_id);
        }
        const recorded = records.filter((r) => fresh.has(r.auditId));
        await appendEvents(trx, recorded.length > 0 ? summarize(recorded) : []);
        return recorded.length;
      });
    },

    async listActivity(requestId, limit) {
      const rows = await db
        .selectFrom('grant_activity')
        .selectAll()
        .where('request_id', '=', requestId)
        .orderBy('time')
        .orderBy('audit_id')
        .limit(limit)
        .execute();
      return rows.map(fromRow);
    },

    async countActivity(requestId) {
      const row = await db
        .selectFrom('grant_activity')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('request_id', '=', requestId)
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    },
  };
}
