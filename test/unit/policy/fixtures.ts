/** Builders for the policy engine's tables: a policy, a set, a request and facts with sane defaults. */

import type { DecisionFacts, DecisionInput, Policy, PolicySet } from '../../../src/domain/policy/types.js';
import type { Target } from '../../../src/domain/target.js';

export const HOUR = 3_600_000;
export const MINUTE = 60_000;

export function policy(name: string, over: Partial<Policy> = {}): Policy {
  return {
    name,
    priority: 0,
    source: `elevate.yaml policies[${name}]`,
    match: {},
    decision: 'auto',
    maxDurationMs: 4 * HOUR,
    allowEscalatingRoles: [],
    ...over,
  };
}

export function policySet(policies: Policy[], over: Partial<PolicySet> = {}): PolicySet {
  return {
    policies,
    profiles: [],
    guardrails: {
      allowClusterAdmin: false,
      forbiddenRoles: [],
      protectedNamespaces: ['kube-system', 'kube-public', 'kube-node-lease'],
    },
    limits: { minDurationMs: MINUTE, maxDurationMs: 7 * 24 * HOUR, maxScheduleAheadMs: 7 * 24 * HOUR },
    clusterLabels: { dev: { env: 'dev' }, prod: { env: 'prod', region: 'eu' } },
    digest: 'test',
    ...over,
  };
}

export function target(over: Partial<Target> = {}): Target {
  return { cluster: 'dev', namespace: 'payments', role: 'edit', roleKind: 'ClusterRole', ...over };
}

export function input(over: Partial<DecisionInput> = {}): DecisionInput {
  return {
    requester: 'alice',
    groups: ['devs'],
    targets: [target()],
    profile: null,
    durationMs: HOUR,
    ticket: null,
    ...over,
  };
}

export function facts(over: Partial<DecisionFacts> = {}): DecisionFacts {
  return { now: new Date('2026-05-06T10:00:00Z'), ...over };
}
