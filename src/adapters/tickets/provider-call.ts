import type { TicketState } from '../../domain/ticket.js';
import { TicketProviderError } from '../../services/ports.js';
import { callHttp, type HttpAnswer } from '../http/http-call.js';
import type { ProviderCredentials } from './provider-auth.js';

export interface ProviderConnection {
  name: string;
  credentials: ProviderCredentials;
  timeoutMs: number;
  ca: Buffer | null;
}

/**
 * GETs `url` from the ticket system with its credentials; a 401 renews them once (an OAuth2 token revoked
 * early). Whatever keeps the system from answering — refused, timed out, credentials refused — becomes a
 * TicketProviderError naming the provider; the caller reads statuses it understands (200, 404) itself.
 */
export async function getFromTicketSystem(
  conn: ProviderConnection,
  url: string,
  understood: number[],
): Promise<HttpAnswer> {
  const attempt = async () => {
    const auth = await conn.credentials.header();
    return callHttp({
      method: 'GET',
      url,
      headers: auth ? { authorization: auth } : {},
      timeoutMs: conn.timeoutMs,
      ca: conn.ca,
    });
  };
  let answer: HttpAnswer;
  try {
    answer = await attempt();
    if (answer.status === 401) {
      conn.credentials.refresh();
      answer = await attempt();
    }
  } catch (e) {
    throw new TicketProviderError(conn.name, `${conn.name} did not answer: ${(e as Error).message}`);
  }
  if (understood.includes(answer.status)) return answer;
  if (answer.status === 401 || answer.status === 403) {
    throw new TicketProviderError(
      conn.name,
      `${conn.name} refused Elevate's credentials (HTTP ${answer.status})`,
    );
  }
  throw new TicketProviderError(conn.name, `${conn.name} answered HTTP ${answer.status}`);
}

/** A TicketProviderError for an answer that is not the documented shape. */
export const garbage = (name: string, what: string) =>
  new TicketProviderError(name, `${name} answered something that is not ${what}`);

/** What a provider says of a ticket it does not have (or a text that cannot name one of its tickets). */
export function notFound(id: string): TicketState {
  return {
    id,
    found: false,
    open: false,
    status: 'not found',
    assignees: [],
    notBefore: null,
    notAfter: null,
  };
}
