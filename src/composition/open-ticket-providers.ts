import { readFile } from 'node:fs/promises';
import { createHttpLookupProvider } from '../adapters/tickets/http-lookup-provider.js';
import { createJiraProvider } from '../adapters/tickets/jira-provider.js';
import { openCredentials } from '../adapters/tickets/provider-auth.js';
import { createServiceNowProvider } from '../adapters/tickets/servicenow-provider.js';
import { type Config, ConfigError } from '../config/load-config.js';
import type { TicketProvider } from '../services/ports.js';

/**
 * The ticket systems of tickets.providers, their secrets and CAs read now: a missing secret or CA file
 * fails the start naming the field, rather than the first request that needs the ticket system.
 */
export async function openTicketProviders(config: Config): Promise<Map<string, TicketProvider>> {
  const out = new Map<string, TicketProvider>();
  for (const [i, p] of config.tickets.providers.entries()) {
    const field = `tickets.providers[${i}]`;
    try {
      const ca = p.caFile ? await readFile(p.caFile) : null;
      if (ca && !ca.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) {
        throw new Error(`caFile: ${p.caFile} holds no PEM certificate`);
      }
      const options = { timeoutMs: p.timeoutMs, ca };
      const credentials = await openCredentials(p.auth, `${field}.auth`, options);
      const conn = { name: p.name, credentials, ...options };
      const provider =
        p.type === 'servicenow'
          ? createServiceNowProvider(conn, p.url)
          : p.type === 'jira'
            ? createJiraProvider(conn, p.url)
            : createHttpLookupProvider(conn, p.url);
      out.set(p.name, provider);
    } catch (e) {
      throw new ConfigError(`${config.file}: ${field}: ${(e as Error).message}`);
    }
  }
  return out;
}
