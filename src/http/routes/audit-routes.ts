import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditEvent } from '../../domain/audit-event.js';
import { Forbidden } from '../../domain/errors.js';
import type { Identity } from '../../domain/identity.js';
import type { Store } from '../../services/ports.js';
import { problem } from '../resources.js';
import { identityOf } from './authenticate.js';

export interface AuditRoutesDeps {
  store: Pick<Store, 'listAudit' | 'verifyAuditChain'>;
  isAdmin: (who: Identity) => boolean;
}

const csvColumns = [
  'seq',
  'time',
  'actor',
  'action',
  'request',
  'cluster',
  'details',
  'prevHash',
  'hash',
] as const;

/** Quotes as RFC 4180 wants, and defuses cells a spreadsheet would run as a formula. */
function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function toCsvRow(e: AuditEvent): string {
  return [
    String(e.seq),
    e.time.toISOString(),
    e.actor,
    e.action,
    e.requestId ?? '',
    e.cluster ?? '',
    JSON.stringify(e.details),
    e.prevHash,
    e.hash,
  ]
    .map(csvCell)
    .join(',');
}

export function toJsonLine(e: AuditEvent): string {
  return JSON.stringify({ ...e, time: e.time.toISOString() });
}

export function auditRoutes({ store, isAdmin }: AuditRoutesDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.addHook('preHandler', async (req) => {
      const who = identityOf(req);
      if (!isAdmin(who)) throw new Forbidden(`${who.user} may not read the audit trail (auth.admins only)`);
    });

    app.get(
      '/audit/export',
      {
        schema: {
          summary: 'Export the whole audit trail (admins)',
          tags: ['Audit'],
          querystring: z.strictObject({ format: z.enum(['csv', 'jsonl']).default('csv') }),
          response: { 200: z.string(), 400: problem, 401: problem, 403: problem },
        },
      },
      async (req, reply) => {
        const events = await store.listAudit();
        if (req.query.format === 'jsonl') {
          return reply.type('application/x-ndjson').send(events.map((e) => `${toJsonLine(e)}\n`).join(''));
        }
        const body = [csvColumns.join(','), ...events.map(toCsvRow)].join('\r\n');
        return reply.type('text/csv; charset=utf-8').send(`${body}\r\n`);
      },
    );

    app.get(
      '/audit/verify',
      {
        schema: {
          summary: 'Check the audit hash chain (admins)',
          tags: ['Audit'],
          response: {
            200: z.object({ intact: z.boolean(), firstBrokenSeq: z.number().nullable() }),
            401: problem,
            403: problem,
          },
        },
      },
      async () => {
        const broken = await store.verifyAuditChain();
        return { intact: broken === null, firstBrokenSeq: broken };
      },
    );
  };
}
