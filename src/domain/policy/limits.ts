/**
 * Room for one more grant: the policy's cooldown, then its live-grant limits, then the global ones, counted
 * over the usage records the service fetched. A refusal names the limit as configured and when it frees up
 * (freesAt), so the requester knows when to come back rather than retrying blindly.
 */
import { formatDuration } from '../duration.js';
import { targetKey } from '../target.js';
import type { DecisionInput, Limits, Policy, Refusal, UsageRecord } from './types.js';

function checkCooldown(
  policy: Policy,
  input: DecisionInput,
  usage: UsageRecord[],
  now: Date,
): Refusal | null {
  const cooldown = policy.cooldownMs;
  if (cooldown === undefined || cooldown <= 0) return null;
  const wanted = new Set(input.targets.map(targetKey));
  let latest: UsageRecord | null = null;
  for (const u of usage) {
    if (u.requester !== input.requester || u.policy !== policy.name || u.endedAt === null) continue;
    if (u.endedAt.getTime() + cooldown <= now.getTime()) continue;
    if (!u.targets.some((t) => wanted.has(targetKey(t)))) continue;
    if (latest === null || (latest.endedAt as Date) < u.endedAt) latest = u;
  }
  if (latest === null) return null;
  const endedAt = latest.endedAt as Date;
  const freesAt = new Date(endedAt.getTime() + cooldown);
  return {
    kind: 'limit',
    freesAt,
    message:
      `policy ${policy.name} has a cooldown of ${formatDuration(cooldown)} (cooldown) after a grant of the same target; ` +
      `${input.requester}'s last one (${latest.requestId}) ended at ${endedAt.toISOString()}, so it frees up at ${freesAt.toISOString()}`,
  };
}

/** A count of live grants against its maximum; `says` names it: "policy p allows 2 live grants per user (…)". */
function checkCount(
  max: number | undefined,
  usage: UsageRecord[],
  counts: Counting,
  who: string,
  policy: string,
  says: () => string,
): Refusal | null {
  if (max === undefined) return null;
  let n = 0;
  let freesAt: Date | undefined;
  for (const u of usage) {
    if (!u.live) continue;
    if ((counts === 'mine' || counts === 'ours-mine') && u.requester !== who) continue;
    if ((counts === 'ours' || counts === 'ours-mine') && u.policy !== policy) continue;
    n++;
    if (u.endsAt !== null && (freesAt === undefined || u.endsAt < freesAt)) freesAt = u.endsAt;
  }
  if (n < max) return null;
  if (freesAt === undefined) {
    return { kind: 'limit', message: `${says()}; the next frees up when one of them is activated and ends` };
  }
  return { kind: 'limit', message: `${says()}; the next frees up at ${freesAt.toISOString()}`, freesAt };
}

type Counting = 'ours-mine' | 'ours' | 'mine' | 'all';

const grantsText = (n: number | undefined) => (n === 1 ? '1 live grant' : `${n} live grants`);

/**
 * Cooldown, then the policy's limits, then the global ones; the first exceeded refuses. Plain calls with a
 * counting mode rather than closures: this runs on every allowed request.
 */
export function checkLimits(
  policy: Policy,
  input: DecisionInput,
  limits: Limits,
  usage: UsageRecord[] | undefined,
  now: Date,
): Refusal | null {
  const records = usage ?? [];
  const who = input.requester;
  const name = policy.name;
  return (
    checkCooldown(policy, input, records, now) ??
    checkCount(
      policy.maxActivePerUser,
      records,
      'ours-mine',
      who,
      name,
      () => `policy ${name} allows ${grantsText(policy.maxActivePerUser)} per user (maxActivePerUser)`,
    ) ??
    checkCount(
      policy.maxActive,
      records,
      'ours',
      who,
      name,
      () => `policy ${name} allows ${grantsText(policy.maxActive)} at once (maxActive)`,
    ) ??
    checkCount(
      limits.maxActivePerUser,
      records,
      'mine',
      who,
      name,
      () => `Elevate allows ${grantsText(limits.maxActivePerUser)} per user (limits.maxActivePerUser)`,
    ) ??
    checkCount(
      limits.maxActive,
      records,
      'all',
      who,
      name,
      () => `Elevate allows ${grantsText(limits.maxActive)} at once (limits.maxActive)`,
    )
  );
}
