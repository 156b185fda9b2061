import { randomUUID } from 'node:crypto';
import { basicCredentials, type SaasControls, sendJson, startSaasServer } from './saas-server.js';

/** A ticket as a test sets it; stored and answered the way the Table API does (strings throughout). */
export interface SnowRecord {
  number: string;
  /** Incident: 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled. Change: -5 New … 3 Closed, 4 Canceled. */
  state: string;
  active?: boolean;
  assignedToEmail?: string | null;
  /** Change requests' planned window, as Dates (answered as "YYYY-MM-DD HH:MM:SS" UTC). */
  startDate?: Date;
  endDate?: Date;
}

const glide = (d: Date | undefined) => (d ? d.toISOString().slice(0, 19).replace('T', ' ') : '');

const unauthenticated = {
  error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' },
  status: 'failure',
};

/**
 * A ServiceNow instance's Table API as documented: GET /api/now/table/{incident|change_request} with
 * sysparm_query (number=…), sysparm_fields (dot-walked assigned_to.email), sysparm_limit and
 * sysparm_display_value=false; answers `{"result": [...]}` with string values, X-Total-Count and a Link
 * header; 401 with ServiceNow's error envelope without valid Basic credentials or an OAuth bearer token
 * from POST /oauth_token.do (client credentials).
 */
export async function startServiceNow(credentials: {
  username: string;
  password: string;
  clientId?: string;
  clientSecret?: string;
}) {
  const records = new Map<string, SnowRecord & { sysId: string; table: string }>();
  const tokens = new Set<string>();
  let tokenRequests = 0;

  const controls: SaasControls = await startSaasServer((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/oauth_token.do') {
      tokenRequests++;
      const form = new URLSearchParams(body);
      if (
        form.get('grant_type') !== 'client_credentials' ||
        form.get('client_id') !== credentials.clientId ||
        form.get('client_secret') !== credentials.clientSecret
      ) {
        return sendJson(res, 401, { error_description: 'access_denied', error: 'server_error' });
      }
      const token = randomUUID().replaceAll('-', '');
      tokens.add(token);
      return sendJson(res, 200, {
        access_token: token,
        scope: 'useraccount',
        token_type: 'Bearer',
        expires_in: 1799,
      });
    }
    const auth = req.headers.authorization;
    const basic = basicCredentials(auth);
    const bearer = /^Bearer (.+)$/.exec(auth ?? '')?.[1];
    const ok =
      (basic !== null && basic[0] === credentials.username && basic[1] === credentials.password) ||
      (bearer !== undefined && tokens.has(bearer));
    if (!ok) return sendJson(res, 401, unauthenticated, { 'www-authenticate': 'BASIC realm="Service-now"' });
    const table = /^\/api\/now\/table\/([a-z_]+)$/.exec(url.pathname)?.[1];
    if (req.method !== 'GET' || !table) {
      return sendJson(res, 400, { error: { message: 'Invalid table', detail: null }, status: 'failure' });
    }
    const query = url.searchParams.get('sysparm_query') ?? '';
    const number = /^number=(.+)$/.exec(query)?.[1];
    const limit = Number(url.searchParams.get('sysparm_limit') ?? '10000');
    const matching = [...records.values()].filter(
      (r) => r.table === table && (number === undefined || r.number === number),
    );
    const fields = (url.searchParams.get('sysparm_fields') ?? '').split(',').filter(Boolean);
    const result = matching.slice(0, limit).map((r) => {
      const all: Record<string, string> = {
        sys_id: r.sysId,
        number: r.number,
        active: String(r.active ?? true),
        state: r.state,
        'assigned_to.email': r.assignedToEmail ?? '',
        assigned_to: r.assignedToEmail ? r.sysId.slice(0, 8) : '',
        start_date: glide(r.startDate),
        end_date: glide(r.endDate),
      };
      return fields.length === 0 ? all : Object.fromEntries(fields.map((f) => [f, all[f] ?? '']));
    });
    const self = `${controls.url}${url.pathname}?${url.searchParams}`;
    sendJson(
      res,
      200,
      { result },
      { 'x-total-count': String(matching.length), link: `<${self}>;rel="first"` },
    );
  });

  return {
    ...controls,
    tokenRequests: () => tokenRequests,
    /** Forgets every OAuth token issued (as when they are revoked). */
    revokeTokens: () => tokens.clear(),
    set(record: SnowRecord): void {
      const table = record.number.startsWith('CHG') ? 'change_request' : 'incident';
      const existing = records.get(record.number);
      records.set(record.number, {
        ...record,
        table,
        sysId: existing?.sysId ?? randomUUID().replaceAll('-', ''),
      });
    },
    remove(number: string): void {
      records.delete(number);
    },
  };
}

export type ServiceNowStandIn = Awaited<ReturnType<typeof startServiceNow>>;
