import { createHash } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { AccessRequest, AccessRequestSpec, BindingRef, Extension } from '../../domain/access-request.js';
import type { AuditEvent, AuditEventInput } from '../../domain/audit-event.js';
import type { Emergency } from '../../domain/breakglass.js';
import { Conflict, StaleWrite } from '../../domain/errors.js';
import type { TicketStatus } from '../../domain/ticket.js';
import type { RequestChange, RequestFilter, Store } from '../../services/ports.js';
import { activityRows } from './activity-rows.js';
import { emergencyRows, reviewToRow } from './emergency-rows.js';
import { identityRows } from './identity-rows.js';
import { relayRows } from './relay-rows.js';
import type { AccessRequestsTable, AuditEventsTable, Database } from './schema.js';

const genesisHash = '0'.repeat(64);

export interface KyselyStoreOptions {
  /**
   * Called first in every transaction that appends audit events, so concurrent writers extend the hash
   * chain one at a time. SQLite needs nothing (it has one writer); PostgreSQL takes an advisory lock.
   */
  lockAuditChain?: (trx: Transaction<Database>) => Promise<void>;
  /** Store.lockAcrossServers; by default work simply runs (one server per database). */
  lockAcrossServers?: Store['lockAcrossServers'];
}

/** The store over any Kysely dialect; only opening the connection is dialect-specific. */
export function createKyselyStore(db: Kysely<Database>, options: KyselyStoreOptions = {}): Store {
  const lockAuditChain = options.lockAuditChain ?? (async () => {});

  async function appendEvents(trx: Transaction<Database>, events: AuditEventInput[]): Promise<void> {
    if (events.length === 0) return;
    await lockAuditChain(trx);
    const last = await trx
      .selectFrom('audit_events')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    let seq = last?.seq ?? 0;
    let prev = last?.hash ?? genesisHash;
    for (const input of events) {
      seq += 1;
      const hash = hashEvent(prev, { ...input, seq });
      await trx
        .insertInto('audit_events')
        .values(eventToRow({ ...input, seq, prevHash: prev, hash }))
        .execute();
      prev = hash;
    }
  }

  /** Each change checked against its own version; a stale one is skipped whole (null), the rest saved. */
  async function updateRequests(changes: RequestChange[]): Promise<(AccessRequest | null)[]> {
    return db.transaction().execute(async (trx) => {
      const saved: (AccessRequest | null)[] = [];
      const events: AuditEventInput[] = [];
      for (const { request, events: own } of changes) {
        const next = { ...request, version: request.version + 1 };
        const result = await trx
          .updateTable('access_requests')
          .set(toRow(next))
          .where('id', '=', request.id)
          .where('version', '=', request.version)
          .executeTakeFirst();
        const ok = Number(result.numUpdatedRows) === 1;
        saved.push(ok ? next : null);
        if (ok) events.push(...own);
      }
      await appendEvents(trx, events);
      return saved;
    });
  }

  return {
    async createRequest(request, events, review) {
      await db.transaction().execute(async (trx) => {
        const key = request.spec.externalKey;
        if (key !== undefined) {
          // Checked first so the usual case gets a clear Conflict; the unique index settles a race.
          const taken = await trx
            .selectFrom('access_requests')
            .select('id')
            .where('external_key', '=', key)
            .executeTakeFirst();
          if (taken) throw new Conflict(`request ${taken.id} was already made for ${key}`);
        }
        await trx.insertInto('access_requests').values(toRow(request)).execute();
        if (review) await trx.insertInto('reviews').values(reviewToRow(review)).execute();
        await appendEvents(trx, events);
      });
    },

    async findRequestByExternalKey(key) {
      const row = await db
        .selectFrom('access_requests')
        .selectAll()
        .where('external_key', '=', key)
        .executeTakeFirst();
      return row ? fromRow(row) : null;
    },

    async updateRequest(request, events) {
      const [saved] = await updateRequests([{ request, events }]);
      if (!saved) throw new StaleWrite(`request ${request.id} was changed by someone else; try again`);
      return saved;
    },

    updateRequests,

    async getRequest(id) {
      const row = await db.selectFrom('access_requests').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? fromRow(row) : null;
    },

    async listRequests(filter: RequestFilter) {
      let q = db.selectFrom('access_requests').selectAll().orderBy('created_at').orderBy('id');
      if (filter.phases) q = q.where('phase', 'in', filter.phases.length ? filter.phases : ['']);
      if (filter.requester) q = q.where('requester', '=', filter.requester);
      if (filter.updatedAfter) q = q.where('updated_at', '>', filter.updatedAfter.toISOString());
      if (filter.changedAfterSeq !== undefined) {
        const after = filter.changedAfterSeq;
        q = q.where('id', 'in', (sub) =>
          sub
            .selectFrom('audit_events')
            .select('request_id')
            .where('seq', '>', after)
            .where('request_id', 'is not', null)
            .$narrowType<{ request_id: string }>(),
        );
      }
      return (await q.execute()).map(fromRow);
    },

    async countByPhase() {
      const rows = await db
        .selectFrom('access_requests')
        .select(['phase', db.fn.countAll<number>().as('count')])
        .groupBy('phase')
        .execute();
      return Object.fromEntries(rows.map((r) => [r.phase, Number(r.count)]));
    },

    lockAcrossServers: options.lockAcrossServers ?? ((_key, work) => work()),

    async appendAudit(events) {
      await db.transaction().execute((trx) => appendEvents(trx, events));
    },

    async listAudit(options = {}) {
      let q = db.selectFrom('audit_events').selectAll().orderBy('seq');
      if (options.afterSeq !== undefined) q = q.where('seq', '>', options.afterSeq);
      if (options.limit !== undefined) q = q.limit(options.limit);
      return (await q.execute()).map(eventFromRow);
    },

    async listAuditForRequest(requestId) {
      const rows = await db
        .selectFrom('audit_events')
        .selectAll()
        .where('request_id', '=', requestId)
        .orderBy('seq')
        .execute();
      return rows.map(eventFromRow);
    },

    async auditHead() {
      const last = await db
        .selectFrom('audit_events')
        .select(['seq', 'hash'])
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      return last ? { seq: Number(last.seq), hash: last.hash } : null;
    },

    async verifyAuditChain() {
      let prev = genesisHash;
      for (const row of await db.selectFrom('audit_events').selectAll().orderBy('seq').execute()) {
        const event = eventFromRow(row);
        if (event.prevHash !== prev || hashEvent(prev, event) !== event.hash) return event.seq;
        prev = event.hash;
      }
      return null;
    },

    ...identityRows(db, appendEvents),
    ...emergencyRows(db, appendEvents),
    ...relayRows(db, appendEvents),
    ...activityRows(db, appendEvents),

    async close() {
      await db.destroy();
    },
  };
}

/** Each event's hash covers its content and the previous hash, so editing or deleting any event breaks the chain. */
function hashEvent(prevHash: string, e: AuditEventInput & { seq: number }): string {
  const canonical = JSON.stringify([
    e.seq,
    e.time.toISOString(),
    e.actor,
    e.action,
    e.requestId,
    e.cluster,
    e.details,
  ]);
  return createHash('sha256').update(prevHash).update(canonical).digest('hex');
}

function eventToRow(e: AuditEvent): AuditEventsTable {
  return {
    seq: e.seq,
    time: e.time.toISOString(),
    actor: e.actor,
    action: e.action,
    request_id: e.requestId,
    cluster: e.cluster,
    details_json: JSON.stringify(e.details),
    prev_hash: e.prevHash,
    hash: e.hash,
  };
}

function eventFromRow(r: AuditEventsTable): AuditEvent {
  return {
    seq: r.seq,
    time: new Date(r.time),
    actor: r.actor,
    action: r.action,
    requestId: r.request_id,
    cluster: r.cluster,
    details: JSON.parse(r.details_json),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

function toRow(r: AccessRequest): AccessRequestsTable {
  return {
    id: r.id,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    version: r.version,
    phase: r.phase,
    requester: r.spec.requester,
    // The first target's: the column only narrows listings; every target is in spec_json.
    cluster: r.spec.targets[0]?.cluster ?? '',
    expires_at: r.grant?.expiresAt.toISOString() ?? null,
    spec_json: JSON.stringify(r.spec),
    policy_json: JSON.stringify(r.policy),
    approvals_json: JSON.stringify(r.approvals),
    grant_json: r.grant ? JSON.stringify(r.grant) : null,
    revocation_json: r.revocation ? JSON.stringify(r.revocation) : null,
    extensions_json: JSON.stringify(r.extensions),
    message: r.message,
    external_key: r.spec.externalKey ?? null,
    ticket_json: r.ticket ? JSON.stringify(r.ticket) : null,
    emergency_json: r.emergency ? JSON.stringify(r.emergency) : null,
  };
}

/**
 * Requests saved before they had several targets held one in the spec itself (cluster, role, roleKind,
 * namespace) and binding refs without a cluster; both read as the one-target shape they mean.
 */
function specFromJson(json: string): AccessRequestSpec {
  const { cluster, role, roleKind, namespace, startTime, ...rest } = JSON.parse(json);
  // Requests saved before scheduled starts have none: they start when approved.
  const start = startTime ? new Date(startTime) : null;
  if (rest.targets) return { profile: null, ...rest, startTime: start };
  return { ...rest, profile: null, targets: [{ cluster, role, roleKind, namespace }], startTime: start };
}

function extensionsFromJson(json: string | undefined): Extension[] {
  return (JSON.parse(json ?? '[]') as (Extension & Record<'requestedAt' | 'decidedAt', string>)[]).map(
    (e) => ({
      ...e,
      requestedAt: new Date(e.requestedAt),
      decidedAt: e.decidedAt ? new Date(e.decidedAt) : null,
      approvals: e.approvals.map((a) => ({ ...a, at: new Date(a.at) })),
    }),
  );
}

function fromRow(row: AccessRequestsTable): AccessRequest {
  const spec = specFromJson(row.spec_json);
  const policy = JSON.parse(row.policy_json);
  const grant = row.grant_json ? JSON.parse(row.grant_json) : null;
  const revocation = row.revocation_json ? JSON.parse(row.revocation_json) : null;
  return {
    id: row.id,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    version: row.version,
    phase: row.phase as AccessRequest['phase'],
    spec,
    policy: {
      // Requests saved before these were decided with one deny ending them, and no comment required.
      denyEnds: true,
      requireComment: false,
      ...policy,
      approvalDeadline: policy.approvalDeadline ? new Date(policy.approvalDeadline) : null,
      ...(policy.explanation?.refusal?.freesAt
        ? {
            explanation: {
              ...policy.explanation,
              refusal: {
                ...policy.explanation.refusal,
                freesAt: new Date(policy.explanation.refusal.freesAt),
              },
            },
          }
        : {}),
    },
    approvals: JSON.parse(row.approvals_json).map((a: { at: string }) => ({ ...a, at: new Date(a.at) })),
    grant: grant
      ? {
          bindings: grant.bindings.map((b: Omit<BindingRef, 'cluster'> & { cluster?: string }) => ({
            ...b,
            cluster: b.cluster ?? spec.targets[0]?.cluster,
          })),
          activatedAt: new Date(grant.activatedAt),
          expiresAt: new Date(grant.expiresAt),
        }
      : null,
    revocation: revocation ? { ...revocation, at: new Date(revocation.at) } : null,
    extensions: extensionsFromJson(row.extensions_json),
    message: row.message,
    ...(row.ticket_json ? { ticket: ticketFromJson(row.ticket_json) } : {}),
    ...(row.emergency_json ? { emergency: emergencyFromJson(row.emergency_json) } : {}),
  };
}

function ticketFromJson(json: string): TicketStatus {
  const t = JSON.parse(json);
  return { ...t, checkedAt: new Date(t.checkedAt), notAfter: t.notAfter ? new Date(t.notAfter) : null };
}

function emergencyFromJson(json: string): Emergency {
  const e = JSON.parse(json);
  return e.kind === 'tickets-waived' ? { ...e, modeSince: new Date(e.modeSince) } : e;
}
