import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditEvent } from '../../domain/audit-event.js';
import type { AuditService } from '../../services/audit-service.js';
import { authProblems, problems } from '../openapi.js';
import { identityOf } from './authenticate.js';

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

const auditHead = z.object({ seq: z.number().int(), hash: z.string() });

/** `SEQ:HASH`, as `elevate audit verify` prints the head. */
const expectHeadParam = z
  .string()
  // At most 15 digits: every such seq is a safe integer, so it reaches the store exactly.
  .regex(
    /^[1-9][0-9]{0,14}:[0-9a-f]{64}$/,
    'expected SEQ:HASH (a positive seq of up to 15 digits and 64 hex digits)',
  )
  .transform((text) => {
    const [seq, hash] = text.split(':') as [string, string];
    return { seq: Number(seq), hash };
  });

export function auditRoutes(audit: AuditService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/audit/export',
      {
        schema: {
          summary: 'Export the whole audit trail (admins)',
          operationId: 'exportAudit',
          tags: ['Audit'],
          querystring: z.strictObject({ format: z.enum(['csv', 'jsonl']).default('csv') }),
          response: {
            200: {
              description: 'The trail, oldest first: CSV (RFC 4180) or JSON lines',
              content: { 'text/csv': { schema: z.string() }, 'application/x-ndjson': { schema: z.string() } },
            },
            ...problems(...authProblems, 403),
          },
        },
      },
      async (req, reply) => {
        const events = await audit.export(identityOf(req));
        if (req.query.format === 'jsonl') {
          return reply.type('application/x-ndjson').send(events.map((e) => `${toJsonLine(e)}\n`).join(''));
        }
        const body = [csvColumns.join(','), ...events.map(toCsvRow)].join('\r\n');
        return reply.type('text/csv; charset=utf-8').send(`${body}\r\n`);
      },
    );

    app.get(
      '/audit/sinks',
      {
        schema: {
          summary: 'How each audit sink is doing (admins)',
          operationId: 'listAuditSinks',
          description:
            'Per configured sink (audit.sinks): the last event it confirmed, how far behind the trail it is ' +
            '(events, and the age of the oldest it has not taken), failures in a row with the last error, ' +
            'and the events it refused maxAttempts times and were skipped.',
          tags: ['Audit'],
          response: {
            200: z.object({
              items: z.array(
                z.object({
                  name: z.string(),
                  type: z.string(),
                  cursor: z.number().int().nullable(),
                  lagEvents: z.number().int(),
                  lagSeconds: z.number(),
                  failures: z.number().int(),
                  lastError: z.string().nullable(),
                  lastErrorAt: z.string().nullable(),
                  lastDeliveredAt: z.string().nullable(),
                  refusing: z.object({ seq: z.number().int(), attempts: z.number().int() }).nullable(),
                  skipped: z.number().int(),
                  recentSkips: z.array(
                    z.object({ seq: z.number().int(), error: z.string(), skippedAt: z.string() }),
                  ),
                }),
              ),
            }),
            ...problems(...authProblems, 403),
          },
        },
      },
      async (req) => ({ items: await audit.sinks(identityOf(req)) }),
    );

    app.get(
      '/audit/verify',
      {
        schema: {
          summary: 'Check the audit hash chain (admins)',
          operationId: 'verifyAudit',
          description:
            'Recomputes the hash chain and reports its head. Deleting the newest events leaves a chain that ' +
            'still verifies: pass a head recorded earlier as expectHead to detect that.',
          tags: ['Audit'],
          querystring: z.strictObject({ expectHead: expectHeadParam.optional() }),
          response: {
            200: z.object({
              intact: z.boolean(),
              firstBrokenSeq: z.number().nullable(),
              head: auditHead.nullable(),
              expectedHead: auditHead.extend({ present: z.boolean() }).optional(),
            }),
            ...problems(...authProblems, 403),
          },
        },
      },
      async (req) => audit.verify(identityOf(req), req.query.expectHead),
    );
  };
}
