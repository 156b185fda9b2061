import { z } from 'zod';
import type { TicketProviderAuth } from '../../config/integration-config.js';
import { callHttp, jsonOf } from '../http/http-call.js';
import { readSecretFile } from '../secret-file.js';

/** Gives the Authorization header for each call; `refresh` after a 401 (only OAuth2 has anything to renew). */
export interface ProviderCredentials {
  header(): Promise<string | null>;
  refresh(): void;
}

const tokenAnswer = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().positive().optional(),
});

/**
 * Credentials as configured, secrets read once from their files at start (a missing or empty file fails
 * the start naming the field). OAuth2 client credentials are exchanged for an access token, reused until a
 * minute before it expires (or a 401 says it no longer counts).
 */
export async function openCredentials(
  auth: TicketProviderAuth | null,
  field: string,
  options: { timeoutMs: number; ca: Buffer | null },
): Promise<ProviderCredentials> {
  if (auth === null) return { header: async () => null, refresh: () => {} };
  if (auth.type === 'basic') {
    const password = await readSecretFile(auth.passwordFile, `${field}.passwordFile`);
    const value = `Basic ${Buffer.from(`${auth.username}:${password}`).toString('base64')}`;
    return { header: async () => value, refresh: () => {} };
  }
  if (auth.type === 'bearer') {
    const token = await readSecretFile(auth.tokenFile, `${field}.tokenFile`);
    return { header: async () => `Bearer ${token}`, refresh: () => {} };
  }
  const oauth = auth;
  const secret = await readSecretFile(oauth.clientSecretFile, `${field}.clientSecretFile`);
  let cached: { token: string; renewAt: number } | null = null;
  let inFlight: Promise<string> | null = null;

  async function fetchToken(): Promise<string> {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: oauth.clientId,
      client_secret: secret,
    });
    if (oauth.scopes.length > 0) form.set('scope', oauth.scopes.join(' '));
    const answer = await callHttp({
      method: 'POST',
      url: oauth.tokenUrl,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      ...options,
    });
    if (answer.status !== 200) throw new Error(`the OAuth2 token endpoint answered HTTP ${answer.status}`);
    const parsed = tokenAnswer.safeParse(jsonOf(answer));
    if (!parsed.success) throw new Error('the OAuth2 token endpoint did not answer with an access_token');
    const lifetimeMs = (parsed.data.expires_in ?? 300) * 1000;
    cached = {
      token: parsed.data.access_token,
      renewAt: Date.now() + Math.max(lifetimeMs - 60_000, lifetimeMs / 2),
    };
    return parsed.data.access_token;
  }

  return {
    async header() {
      if (cached && Date.now() < cached.renewAt) return `Bearer ${cached.token}`;
      // Lookups at the same moment share one token request.
      inFlight ??= fetchToken().finally(() => {
        inFlight = null;
      });
      return `Bearer ${await inFlight}`;
    },
    refresh() {
      cached = null;
    },
  };
}
