import { z } from 'zod';
import type { TicketProvider } from '../../services/ports.js';
import { jsonOf } from '../http/http-call.js';
import { garbage, getFromTicketSystem, notFound, type ProviderConnection } from './provider-call.js';

/** Incidents are INC…, change requests CHG…: the number says which table to read. */
const tables = [
  { prefix: 'INC', table: 'incident', ended: { '6': 'Resolved', '7': 'Closed', '8': 'Canceled' } },
  { prefix: 'CHG', table: 'change_request', ended: { '3': 'Closed', '4': 'Canceled' } },
] as const;

const fields = ['sys_id', 'number', 'active', 'state', 'assigned_to.email', 'start_date', 'end_date'];

/** A Table API record with display_value=false: every value is a string ('' when empty). */
const record = z.object({
  sys_id: z.string(),
  number: z.string(),
  active: z.enum(['true', 'false']),
  state: z.string(),
  'assigned_to.email': z.string().optional(),
  start_date: z.string().optional(),
  end_date: z.string().optional(),
});
const tableAnswer = z.object({ result: z.array(record) });

/** "2026-05-06 10:00:00", in UTC as the Table API gives it without display values; '' is no date. */
function glideDate(text: string | undefined): Date | null | 'bad' {
  if (!text) return null;
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/.exec(text);
  if (!m) return 'bad';
  return new Date(`${m[1]}T${m[2]}Z`);
}

/**
 * ServiceNow through the Table API: an incident or change request looked up by its number. Open means
 * `active` and a state other than resolved, closed or canceled; a change request is valid only inside its
 * planned start_date–end_date.
 */
export function createServiceNowProvider(conn: ProviderConnection, instanceUrl: string): TicketProvider {
  const base = instanceUrl.replace(/\/+$/, '');
  return {
    name: conn.name,
    type: 'servicenow',
    async lookup(ticket) {
      const kind = tables.find((t) => ticket.toUpperCase().startsWith(t.prefix));
      const missing = notFound(ticket);
      // Not an incident or change number: no such ticket in ServiceNow.
      if (!kind) return missing;
      const query = new URLSearchParams({
        sysparm_query: `number=${ticket}`,
        sysparm_limit: '1',
        sysparm_fields: fields.join(','),
        sysparm_display_value: 'false',
        sysparm_exclude_reference_link: 'true',
      });
      const answer = await getFromTicketSystem(conn, `${base}/api/now/table/${kind.table}?${query}`, [200]);
      const parsed = tableAnswer.safeParse(jsonOf(answer));
      if (!parsed.success) throw garbage(conn.name, 'a Table API result');
      const row = parsed.data.result.find((r) => r.number.toUpperCase() === ticket.toUpperCase());
      if (!row) return missing;
      const ended = (kind.ended as Record<string, string>)[row.state];
      const open = row.active === 'true' && ended === undefined;
      const notBefore = kind.table === 'change_request' ? glideDate(row.start_date) : null;
      const notAfter = kind.table === 'change_request' ? glideDate(row.end_date) : null;
      if (notBefore === 'bad' || notAfter === 'bad')
        throw garbage(conn.name, 'a date in the Table API format');
      const email = row['assigned_to.email']?.toLowerCase();
      return {
        id: row.number,
        found: true,
        open,
        status: `${ended ?? (row.active === 'true' ? 'Open' : 'Inactive')} (state ${row.state})`,
        assignees: email ? [email] : [],
        notBefore,
        notAfter,
        url: `${base}/nav_to.do?uri=${kind.table}.do?sys_id=${row.sys_id}`,
      };
    },
  };
}
