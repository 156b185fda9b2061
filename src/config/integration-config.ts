/** The tickets, integrations and breakglass sections as the rest of Elevate sees them: paths absolute, durations in ms. */
import type { Principals } from '../domain/identity.js';
import type { ParsedConfig } from './config-schema.js';

export type TicketProviderAuth =
  | { type: 'basic'; username: string; passwordFile: string }
  | { type: 'bearer'; tokenFile: string }
  | { type: 'oauth2'; tokenUrl: string; clientId: string; clientSecretFile: string; scopes: string[] };

export interface TicketProviderConfig {
  name: string;
  type: 'servicenow' | 'jira' | 'http';
  url: string;
  auth: TicketProviderAuth | null;
  caFile: string | null;
  timeoutMs: number;
  /** null: this provider's callbacks are refused. */
  callbackSecretFile: string | null;
}

export interface TicketsConfig {
  providers: TicketProviderConfig[];
  recheckIntervalMs: number;
}

export interface IntegrationConfig {
  name: string;
  /** The identities it signs in as. */
  users: string[];
  mayRequestFor: Principals;
}

export interface BreakglassConfig {
  roster: Principals;
  profiles: string[];
  roles: string[];
  maxDurationMs: number;
  requireMfa: boolean;
  notify: string[];
  reviewers: Principals;
  reviewDeadlineMs: number;
  allowEscalatingRoles: string[];
}

export function resolveIntegrations(c: ParsedConfig, rel: (path: string) => string) {
  const tickets: TicketsConfig = {
    recheckIntervalMs: c.tickets.recheckInterval,
    providers: c.tickets.providers.map((p) => ({
      name: p.name,
      type: p.type,
      url: p.url,
      auth: p.auth ? resolveAuth(p.auth, rel) : null,
      caFile: p.caFile ? rel(p.caFile) : null,
      timeoutMs: p.timeout ?? c.tickets.timeout,
      callbackSecretFile: p.callbackSecretFile ? rel(p.callbackSecretFile) : null,
    })),
  };
  const integrations: IntegrationConfig[] = c.integrations.map((i) => ({
    name: i.name,
    users: i.users ?? (i.user ? [i.user] : []),
    mayRequestFor: i.mayRequestFor,
  }));
  const bg = c.breakglass;
  const breakglass: BreakglassConfig | null = bg
    ? {
        roster: bg.roster,
        profiles: bg.profiles,
        roles: bg.roles,
        maxDurationMs: bg.maxDuration,
        requireMfa: bg.requireMfa,
        notify: bg.notify,
        reviewers: bg.reviewers,
        reviewDeadlineMs: bg.reviewDeadline,
        allowEscalatingRoles: bg.allowEscalatingRoles,
      }
    : null;
  return { tickets, integrations, breakglass };
}

function resolveAuth(
  auth: NonNullable<ParsedConfig['tickets']['providers'][number]['auth']>,
  rel: (path: string) => string,
): TicketProviderAuth {
  switch (auth.type) {
    case 'basic':
      return { ...auth, passwordFile: rel(auth.passwordFile) };
    case 'bearer':
      return { ...auth, tokenFile: rel(auth.tokenFile) };
    case 'oauth2':
      return { ...auth, clientSecretFile: rel(auth.clientSecretFile) };
  }
}
