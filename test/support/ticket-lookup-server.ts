import { sendJson, startSaasServer } from './saas-server.js';

/**
 * A ticket system behind the generic `http` lookup: GET ?user=&cluster=&ticket= answering
 * {valid, notAfter?, message?}, with a bearer token required.
 */
export async function startTicketLookup(token: string) {
  const verdicts = new Map<string, { valid: boolean; notAfter?: string; message?: string }>();
  const asked: { user: string; cluster: string; ticket: string }[] = [];
  const controls = await startSaasServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`)
      return sendJson(res, 401, { message: 'unauthorized' });
    const url = new URL(req.url ?? '/', 'http://x');
    const ticket = url.searchParams.get('ticket') ?? '';
    asked.push({
      user: url.searchParams.get('user') ?? '',
      cluster: url.searchParams.get('cluster') ?? '',
      ticket,
    });
    sendJson(res, 200, verdicts.get(ticket) ?? { valid: false, message: `no ticket ${ticket}` });
  });
  return {
    ...controls,
    asked,
    set(ticket: string, verdict: { valid: boolean; notAfter?: string; message?: string }): void {
      verdicts.set(ticket, verdict);
    },
  };
}
