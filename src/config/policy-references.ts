import type { z } from 'zod';
import { formatDuration } from '../domain/duration.js';
import type { PolicyInput, ProfileInput } from './policy-schema.js';

/** What the cross-checks need of the parsed file. */
interface ParsedConfig {
  clusters: { name: string }[];
  policies: PolicyInput[];
  profiles: ProfileInput[];
  limits: { minDuration: number; maxDuration: number };
}

/**
 * The checks that need the whole file: names that must refer to something configured, names that must be
 * unique. A cluster glob (`prod-*`) may match no configured cluster today; only literal names are checked.
 */
export function checkPolicyReferences(c: ParsedConfig, ctx: z.RefinementCtx): void {
  const clusters = new Set(c.clusters.map((cl) => cl.name));
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message });

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
}
