/**
 * AccessPolicy and AccessProfile objects judged like the config file's own policies: the same zod schema,
 * the same reference checks against the file (clusters, ticket providers, integrations, limits). An object
 * that does not hold is refused on its own and never disturbs the others; the accepted ones join the
 * file's in one policy set, ordered by priority across both.
 */
import type { z } from 'zod';
import type { PolicySet } from '../domain/policy/types.js';
import type { ParsedConfig } from './config-schema.js';
import { formatPath } from './load-config.js';
import { checkPolicyReferences } from './policy-references.js';
import { type PolicyInput, type ProfileInput, policy, profile } from './policy-schema.js';
import { buildPolicySet } from './policy-set.js';

export interface PolicyObject {
  kind: 'AccessPolicy' | 'AccessProfile';
  name: string;
  generation: number;
  spec: unknown;
}

export interface Verdict {
  object: PolicyObject;
  accepted: boolean;
  /** Why it was refused (`spec.match.clusters: unknown cluster x`), or what it now does. */
  message: string;
}

/** The zod issues of one object, written the way kubectl users read paths: spec.approval.required. */
function describe(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path[0] === 'name' ? 'metadata.name' : formatPath(['spec', ...i.path]);
      return `${path}: ${i.message}`;
    })
    .join('; ');
}

/** Runs the file's cross-checks with `candidate` added last, and reports what they say about it. */
function referenceProblems(
  file: ParsedConfig,
  candidate: { policies?: PolicyInput; profiles?: ProfileInput },
) {
  const problems: string[] = [];
  const policies = candidate.policies ? [...file.policies, candidate.policies] : file.policies;
  const profiles = candidate.profiles ? [...file.profiles, candidate.profiles] : file.profiles;
  const field = candidate.policies ? 'policies' : 'profiles';
  const index = (candidate.policies ? policies : profiles).length - 1;
  const ctx = {
    addIssue: (issue: { path?: PropertyKey[]; message?: string }) => {
      const [where, at, ...rest] = issue.path ?? [];
      if (where === field && at === index && rest[0] !== 'name')
        problems.push(`${formatPath(['spec', ...rest])}: ${issue.message}`);
    },
  } as unknown as z.RefinementCtx;
  checkPolicyReferences({ ...file, policies, profiles }, ctx);
  return problems;
}

function durationProblems(file: ParsedConfig, p: PolicyInput): string[] {
  const { minDuration, maxDuration } = file.limits;
  if (p.maxDuration === undefined) return [];
  if (p.maxDuration > maxDuration)
    return ['spec.maxDuration: exceeds limits.maxDuration; a policy may only narrow it'];
  if (p.maxDuration < minDuration)
    return ['spec.maxDuration: is below limits.minDuration: the policy could grant nothing'];
  return [];
}

/**
 * Judges every object against the file and builds the policy set in force: the file's policies and
 * profiles with the accepted objects'. Objects are judged in name order, profiles first (a policy's match
 * may name them), so the outcome does not depend on the order the cluster listed them in.
 */
export function judgePolicyObjects(
  file: ParsedConfig,
  fileName: string,
  objects: PolicyObject[],
): { set: PolicySet; verdicts: Verdict[] } {
  const verdicts: Verdict[] = [];
  const byName = (a: PolicyObject, b: PolicyObject) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const accepted = { policies: [] as PolicyInput[], profiles: [] as ProfileInput[] };
  const refuse = (object: PolicyObject, message: string) =>
    verdicts.push({ object, accepted: false, message });
  const fileProfiles = new Set(file.profiles.map((p) => p.name));
  for (const object of objects.filter((o) => o.kind === 'AccessProfile').sort(byName)) {
    const parsed = profile.safeParse({ ...(object.spec as object), name: object.name });
    if (!parsed.success) refuse(object, describe(parsed.error));
    else if (fileProfiles.has(object.name))
      refuse(object, `the config file has a profile named ${object.name}`);
    else {
      const problems = referenceProblems(file, { profiles: parsed.data });
      if (problems.length > 0) refuse(object, problems.join('; '));
      else {
        accepted.profiles.push(parsed.data);
        verdicts.push({ object, accepted: true, message: `profile ${object.name} is in force` });
      }
    }
  }
  const filePolicies = new Set(file.policies.map((p) => p.name));
  const withProfiles = { ...file, profiles: [...file.profiles, ...accepted.profiles] };
  for (const object of objects.filter((o) => o.kind === 'AccessPolicy').sort(byName)) {
    const parsed = policy.safeParse({ ...(object.spec as object), name: object.name });
    if (!parsed.success) refuse(object, describe(parsed.error));
    else if (filePolicies.has(object.name))
      refuse(object, `the config file has a policy named ${object.name}`);
    else {
      const problems = [
        ...durationProblems(file, parsed.data),
        ...referenceProblems(withProfiles, { policies: parsed.data }),
      ];
      if (problems.length > 0) refuse(object, problems.join('; '));
      else {
        accepted.policies.push(parsed.data);
        verdicts.push({ object, accepted: true, message: `policy ${object.name} is in force` });
      }
    }
  }
  const { set } = buildPolicySet(file, fileName, accepted);
  return { set, verdicts };
}
