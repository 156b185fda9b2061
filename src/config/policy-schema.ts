/**
 * The policy language as written in the config file: policies, their matchers and constraints, profiles,
 * label selectors and time windows. Shapes and local rules only; what needs the whole file (known clusters,
 * unique names, duration bounds) is checked in config-schema.ts.
 */
import { z } from 'zod';
import { parsePositiveDuration } from '../domain/duration.js';
import { grantMechanisms } from '../domain/grant-mechanism.js';
import { checkTimeWindow } from '../domain/policy/time-window.js';

/** A Go-style duration written in config ("30m", "1h30m"), read as positive milliseconds. */
export const durationText = z.string().transform((text, ctx) => {
  const ms = parsePositiveDuration(text);
  if (typeof ms === 'string') {
    ctx.addIssue({ code: 'custom', message: ms });
    return z.NEVER;
  }
  return ms;
});

export const name = z.string().min(1);

export const principals = z.strictObject({
  users: z.array(name).default([]),
  groups: z.array(name).default([]),
});

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const labelName = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why a label key is not one Kubernetes accepts ([prefix/]name), or null. */
export function labelKeyProblem(key: string): string | null {
  const slash = key.indexOf('/');
  const prefix = slash === -1 ? null : key.slice(0, slash);
  const rest = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== null && (prefix.length > 253 || !dnsSubdomain.test(prefix)))
    return `label key ${JSON.stringify(key)}: the prefix must be a DNS subdomain (e.g. example.com)`;
  if (rest.length > 63 || !labelName.test(rest))
    return `label key ${JSON.stringify(key)}: the name must be 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
  return null;
}

/** Why a label value is not one Kubernetes accepts (empty, or up to 63 of [A-Za-z0-9-_.]), or null. */
export function labelValueProblem(value: string): string | null {
  if (value === '' || (value.length <= 63 && labelName.test(value))) return null;
  return `label value ${JSON.stringify(value)}: must be empty or 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
}

/** A map of Kubernetes labels; each bad key or value is named by its path. */
export const labels = z.record(z.string(), z.string()).superRefine((map, ctx) => {
  for (const [key, value] of Object.entries(map)) {
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
  }
});

/** metav1.LabelSelector with Kubernetes' own rules for the operators. */
export const labelSelector = z.strictObject({
  matchLabels: labels.optional(),
  matchExpressions: z
    .array(
      z
        .strictObject({
          key: z.string().refine((k) => labelKeyProblem(k) === null, {
            error: (i) => labelKeyProblem(String(i.input)) ?? 'invalid label key',
          }),
          operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
          values: z.array(z.string()).optional(),
        })
        .superRefine((e, ctx) => {
          const values = e.values ?? [];
          if ((e.operator === 'In' || e.operator === 'NotIn') && values.length === 0)
            ctx.addIssue({
              code: 'custom',
              path: ['values'],
              message: `${e.operator} needs at least one value`,
            });
          if ((e.operator === 'Exists' || e.operator === 'DoesNotExist') && values.length > 0)
            ctx.addIssue({ code: 'custom', path: ['values'], message: `${e.operator} takes no values` });
          values.forEach((v, i) => {
            const problem = labelValueProblem(v);
            if (problem) ctx.addIssue({ code: 'custom', path: ['values', i], message: problem });
          });
        }),
    )
    .optional(),
});

/** A regular expression as JavaScript compiles it; refused with the compiler's message when it does not. */
export const regexText = z.string().superRefine((text, ctx) => {
  try {
    new RegExp(text);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(e as Error).message}` });
  }
});

const timeWindow = z
  .strictObject({
    timezone: z.string({ error: 'required when `when` is given (an IANA zone, e.g. Europe/Berlin)' }),
    days: z.array(z.string()).optional(),
    hours: z.string().optional(),
  })
  .superRefine((w, ctx) => {
    const problem = checkTimeWindow({
      timezone: w.timezone,
      ...(w.days ? { days: w.days } : {}),
      ...(w.hours !== undefined ? { hours: w.hours } : {}),
    });
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const roleKind = z.enum(['ClusterRole', 'Role']);
const positiveInt = z.number().int().min(1);

export const policy = z
  .strictObject({
    name,
    /** Higher first; equal priorities keep file order. */
    priority: z.number().int().default(0),
    match: z
      .strictObject({
        users: z.array(name).optional(),
        groups: z.array(name).optional(),
        serviceAccounts: z.array(name).optional(),
        clusters: z.array(name).optional(),
        clusterSelector: labelSelector.optional(),
        namespaces: z.array(name).optional(),
        namespaceSelector: labelSelector.optional(),
        roles: z.array(name).optional(),
        roleKinds: z.array(roleKind).optional(),
        profiles: z.array(name).optional(),
        when: timeWindow.optional(),
        ticket: regexText.optional(),
        /** Integration names (integrations[].name): matches only requests made through one of them. */
        via: z.array(name).optional(),
      })
      .default({}),
    decision: z.enum(['auto', 'approval', 'deny']),
    approval: z
      .strictObject({
        approvers: principals,
        required: positiveInt.default(1),
        timeout: durationText.prefault('24h'),
        denyEnds: z.boolean().default(true),
        requireComment: z.boolean().default(false),
        /** Each approver sends a fresh one-time code (TOTP) with the approval. */
        requireMfa: z.boolean().default(false),
      })
      .optional(),
    /** Defaults to 1h, or limits.maxDuration when that is shorter. */
    maxDuration: durationText.optional(),
    /** Used when a request gives no duration; above maxDuration it is capped (policy check warns). */
    defaultDuration: durationText.optional(),
    /**
     * true, or what the ticket must be: matching a pattern, known and open in a ticket provider
     * (tickets.providers[].name), assigned to the requester. false is the same as leaving it out.
     */
    requireTicket: z
      .union([
        z.boolean(),
        z.strictObject({
          pattern: regexText.optional(),
          provider: name.optional(),
          assignedToRequester: z.boolean().default(false),
        }),
      ])
      .optional(),
    cooldown: durationText.optional(),
    maxActivePerUser: positiveInt.optional(),
    maxActive: positiveInt.optional(),
    allowEscalatingRoles: z.array(name).default([]),
    /** The requester sends a fresh one-time code (TOTP) with the request. */
    requireMfa: z.boolean().default(false),
    /** How its grants give access: bindings to the person, or a per-grant ServiceAccount's tokens. */
    grant: z.enum(grantMechanisms).default('binding'),
    message: z.string().optional(),
  })
  .superRefine((p, ctx) => {
    const ticket = p.requireTicket;
    if (typeof ticket === 'object' && ticket.assignedToRequester && ticket.provider === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['requireTicket', 'assignedToRequester'],
        message: 'needs a provider: only a ticket system knows who a ticket is assigned to',
      });
    }
    if (p.decision === 'approval' && !p.approval) {
      ctx.addIssue({ code: 'custom', path: ['approval'], message: 'required when decision is approval' });
    }
    if (p.approval && p.approval.approvers.users.length + p.approval.approvers.groups.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['approval', 'approvers'],
        message: 'name at least one user or group',
      });
    }
  });

export type PolicyInput = z.output<typeof policy>;

const profileTarget = z
  .strictObject({
    cluster: name,
    namespace: z.string().regex(dnsLabel, 'namespace names are DNS labels').max(63).optional(),
    clusterWide: z.boolean().optional(),
    role: name,
    roleKind: roleKind.default('ClusterRole'),
  })
  .superRefine((t, ctx) => {
    const wide = t.clusterWide === true;
    if (wide === (t.namespace !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: wide ? ['clusterWide'] : ['namespace'],
        message: wide
          ? 'give either namespace or clusterWide: true, not both'
          : 'give a namespace, or clusterWide: true',
      });
    if (wide && t.roleKind === 'Role')
      ctx.addIssue({
        code: 'custom',
        path: ['roleKind'],
        message: 'a Role lives in a namespace: give a namespace, or use a ClusterRole',
      });
  });

export const profile = z.strictObject({
  name: z.string().max(63).regex(dnsLabel, 'profile names are DNS labels (lower-case letters, digits and -)'),
  description: z.string().optional(),
  targets: z.array(profileTarget).min(1),
});

export type ProfileInput = z.output<typeof profile>;
