/**
 * The config of what Elevate talks to besides clusters and people: ticket systems (tickets), identities that
 * ask on someone's behalf (integrations), and emergency access (breakglass). Shapes and local rules; the
 * cross-checks (a policy naming a provider that exists…) are in policy-references.ts.
 */
import { z } from 'zod';
import { durationText, name, principals } from './policy-schema.js';

/** An http(s) URL without credentials in it: secrets come from files, never from the config text. */
export const serviceUrl = z
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'expected an http:// or https:// URL')
  .refine((u) => !new URL(u).username && !new URL(u).password, 'put credentials in auth, not in the URL');

const providerAuth = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('basic'), username: z.string().min(1), passwordFile: z.string().min(1) }),
  z.strictObject({ type: z.literal('bearer'), tokenFile: z.string().min(1) }),
  z.strictObject({
    type: z.literal('oauth2'),
    /** The token endpoint; client credentials grant. */
    tokenUrl: serviceUrl,
    clientId: z.string().min(1),
    clientSecretFile: z.string().min(1),
    scopes: z.array(z.string().min(1)).default([]),
  }),
]);

export const ticketProvider = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'provider names are DNS labels'),
  type: z.enum(['servicenow', 'jira', 'http']),
  /** ServiceNow: the instance (https://acme.service-now.com); Jira: the site; http: the lookup endpoint. */
  url: serviceUrl,
  auth: providerAuth.optional(),
  /** PEM bundle to trust for the system's TLS, when it is not a public CA. */
  caFile: z.string().min(1).optional(),
  /** How long a lookup may take before it counts as the system being down. */
  timeout: durationText.optional(),
  /** The shared secret the system signs callbacks with (HMAC-SHA256); absent: callbacks are refused. */
  callbackSecretFile: z.string().min(1).optional(),
});

export const ticketsSchema = z
  .strictObject({
    providers: z.array(ticketProvider).default([]),
    /** How often every Active grant tied to a ticket is checked again. */
    recheckInterval: durationText.prefault('1m'),
    /** Default lookup timeout. */
    timeout: durationText.prefault('5s'),
  })
  .prefault({});

export const integrationSchema = z
  .strictObject({
    name,
    /** The identity (or identities) the integration signs in as: an API token's name, a token-file user. */
    user: z.string().min(1).optional(),
    users: z.array(z.string().min(1)).optional(),
    /** Whom it may ask for: any of these users, or anyone in these groups (as last seen signing in). */
    mayRequestFor: z.strictObject({
      users: z.array(z.string().min(1)).default([]),
      groups: z.array(z.string().min(1)).default([]),
    }),
  })
  .superRefine((i, ctx) => {
    if ((i.user === undefined) === (i.users === undefined))
      ctx.addIssue({ code: 'custom', path: ['users'], message: 'give user or users (one of them)' });
    if (i.users && i.users.length === 0)
      ctx.addIssue({ code: 'custom', path: ['users'], message: 'name at least one user' });
    if (i.mayRequestFor.users.length + i.mayRequestFor.groups.length === 0)
      ctx.addIssue({ code: 'custom', path: ['mayRequestFor'], message: 'name at least one user or group' });
  });

export const breakglassSchema = z.strictObject({
  /** Who may pull the glass. */
  roster: principals,
  /** Profiles (profiles[].name) they may take. */
  profiles: z.array(name).default([]),
  /** Roles they may take one by one (--cluster/--role/--namespace) on any configured cluster. */
  roles: z.array(name).default([]),
  /** Hard cap on a break-glass grant; a longer --duration is cut to it. */
  maxDuration: durationText.prefault('1h'),
  /** Pulling the glass takes a fresh one-time code (TOTP). */
  requireMfa: z.boolean().default(false),
  /** Webhook URLs told at once (break-glass used, mode on/off, review overdue), retried until they answer. */
  notify: z.array(serviceUrl).default([]),
  /** Who completes post-incident reviews (never the person reviewed). */
  reviewers: principals.prefault({}),
  /** An open review older than this is overdue. */
  reviewDeadline: durationText.prefault('72h'),
  /** Roles a break-glass grant may give although their rules escalate (the guardrails hold otherwise). */
  allowEscalatingRoles: z.array(name).default([]),
});
