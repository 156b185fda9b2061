import { z } from 'zod';
import type { TicketProvider } from '../../services/ports.js';
import { jsonOf } from '../http/http-call.js';
import { garbage, getFromTicketSystem, type ProviderConnection } from './provider-call.js';

const verdict = z.object({
  valid: z.boolean(),
  notAfter: z.iso.datetime({ offset: true }).optional(),
  message: z.string().optional(),
});

/**
 * A generic lookup in the style of OpenUnison's privileged-access API: `GET url?user=&cluster=&ticket=`
 * answers `{valid, notAfter?, message?}`. The system judges the assignment itself, so it says nothing of it.
 */
export function createHttpLookupProvider(conn: ProviderConnection, lookupUrl: string): TicketProvider {
  return {
    name: conn.name,
    type: 'http',
    async lookup(ticket, context) {
      const url = new URL(lookupUrl);
      url.searchParams.set('user', context.user);
      url.searchParams.set('cluster', context.clusters.join(','));
      url.searchParams.set('ticket', ticket);
      const answer = await getFromTicketSystem(conn, url.toString(), [200]);
      const parsed = verdict.safeParse(jsonOf(answer));
      if (!parsed.success) throw garbage(conn.name, 'a {valid, notAfter?, message?} verdict');
      const { valid, notAfter, message } = parsed.data;
      return {
        id: ticket,
        found: true,
        open: valid,
        status: valid ? 'valid' : (message ?? 'not valid'),
        assignees: null,
        notBefore: null,
        notAfter: notAfter ? new Date(notAfter) : null,
        ...(message ? { message } : {}),
      };
    },
  };
}
