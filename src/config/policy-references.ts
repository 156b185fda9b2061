import type { z } from 'zod';
import { formatDuration } from '../domain/duration.js';
import type { PolicyInput, ProfileInput } from './policy-schema.js';

/** What the cross-checks need of the parsed file. */
interface ParsedConfig {
  clusters: { name: string }[];
  policies: PolicyInput[];
  profiles: ProfileInput[];
  limits: { minDuration: number; maxDuration: number };
  tickets: { providers: { name: string }[] };
  integrations: { name: string }[];
  breakglass?: { profiles: string[]; maxDuration: number } | undefined;
  home?: { clusterSecrets: boolean } | undefined;
}

/** Names in `list` (at `path`) that must be unique. */
function checkUnique(
  list: { name: string }[],
  path: string,
  issue: (path: (string | number)[], message: string) => void,
): Set<string> {
  const at = new Map<string, number>();
  list.forEach((x, i) => {
    const first = at.get(x.name);
    if (first !== undefined) issue([path, i, 'name'], `duplicate name ${x.name} (also ${path}[${first}])`);
    else at.set(x.name, i);
  });
  return new Set(at.keys());
}

/**
 * The checks that need the whole file: names that must refer to something configured, names that must be
 * unique. A cluster glob (`prod-*`) may match no configured cluster today; only literal names are checked,
 * and not at all when cluster Secrets may add clusters while Elevate runs.
 */
export function checkPolicyReferences(c: ParsedConfig, ctx: z.RefinementCtx): void {
  const fileClusters = new Set(c.clusters.map((cl) => cl.name));
  const clusters = { has: (name: string) => c.home?.clusterSecrets === true || fileClusters.has(name) };
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message });

  const providers = checkUnique(c.tickets.providers, 'tickets.providers', (p, m) =>
    issue(['tickets', 'providers', ...p.slice(1)], m),
  );
  const integrations = checkUnique(c.integrations, 'integrations', issue);
  const policyAt = new Map<string, number>();
  c.policies.forEach((p, i) => {
    const first = policyAt.get(p.name);
    if (first !== undefined)
      issue(['policies', i, 'name'], `duplicate policy ${p.name} (also policies[${first}])`);
    else policyAt.set(p.name, i);
    for (const cl of p.match.clusters ?? []) {
      if (!cl.includes('*') && !clusters.has(cl))
        issue(['policies', i, 'match', 'clusters'], `unknown cluster ${cl}`);
    }
    const ticket = p.requireTicket;
    if (typeof ticket === 'object' && ticket.provider !== undefined && !providers.has(ticket.provider))
      issue(
        ['policies', i, 'requireTicket', 'provider'],
        `unknown ticket provider ${ticket.provider} (tickets.providers: ${[...providers].join(', ') || 'none'})`,
      );
    for (const via of p.match.via ?? []) {
      if (!integrations.has(via))
        issue(
          ['policies', i, 'match', 'via'],
          `unknown integration ${via} (integrations: ${[...integrations].join(', ') || 'none'})`,
        );
    }
    if (p.defaultDuration !== undefined && p.defaultDuration < c.limits.minDuration)
      issue(
        ['policies', i, 'defaultDuration'],
        `is below limits.minDuration (${formatDuration(c.limits.minDuration)}): a request without a duration would be refused`,
      );
  });

  const profileAt = new Map<string, number>();
  c.profiles.forEach((p, i) => {
    const first = profileAt.get(p.name);
    if (first !== undefined)
      issue(['profiles', i, 'name'], `duplicate profile ${p.name} (also profiles[${first}])`);
    else profileAt.set(p.name, i);
    p.targets.forEach((t, j) => {
      if (!clusters.has(t.cluster))
        issue(['profiles', i, 'targets', j, 'cluster'], `unknown cluster ${t.cluster} (not in clusters)`);
    });
  });

  const bg = c.breakglass;
  if (bg) {
    bg.profiles.forEach((name, i) => {
      if (!profileAt.has(name))
        issue(['breakglass', 'profiles', i], `unknown profile ${name} (not in profiles)`);
    });
    if (bg.maxDuration > c.limits.maxDuration)
      issue(
        ['breakglass', 'maxDuration'],
        `exceeds limits.maxDuration (${formatDuration(c.limits.maxDuration)}); no grant is longer`,
      );
  }
}
