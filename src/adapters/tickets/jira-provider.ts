import { z } from 'zod';
import type { TicketProvider } from '../../services/ports.js';
import { jsonOf } from '../http/http-call.js';
import { garbage, getFromTicketSystem, notFound, type ProviderConnection } from './provider-call.js';

const issue = z.object({
  key: z.string(),
  fields: z.object({
    status: z.object({ name: z.string(), statusCategory: z.object({ key: z.string() }) }),
    assignee: z.object({ emailAddress: z.string().optional(), accountId: z.string().optional() }).nullable(),
  }),
});

/** Jira keys: PROJECT-123. Anything else cannot name an issue, and is not sent as a path. */
const issueKey = /^[A-Z][A-Z0-9_]*-\d+$/i;

/** Jira (Cloud or Data Center) REST v3: an issue is open until its status category is `done`. */
export function createJiraProvider(conn: ProviderConnection, siteUrl: string): TicketProvider {
  const base = siteUrl.replace(/\/+$/, '');
  return {
    name: conn.name,
    type: 'jira',
    async lookup(ticket) {
      const missing = notFound(ticket);
      if (!issueKey.test(ticket)) return missing;
      const url = `${base}/rest/api/3/issue/${encodeURIComponent(ticket)}?fields=status,assignee`;
      const answer = await getFromTicketSystem(conn, url, [200, 404]);
      if (answer.status === 404) return missing;
      const parsed = issue.safeParse(jsonOf(answer));
      if (!parsed.success) throw garbage(conn.name, 'a Jira issue');
      const { key, fields } = parsed.data;
      const email = fields.assignee?.emailAddress?.toLowerCase();
      return {
        id: key,
        found: true,
        open: fields.status.statusCategory.key !== 'done',
        status: fields.status.name,
        // An assignee whose e-mail Jira hides (profile visibility) cannot be matched to a requester.
        assignees: email ? [email] : [],
        notBefore: null,
        notAfter: null,
        url: `${base}/browse/${key}`,
      };
    },
  };
}
