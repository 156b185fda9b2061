import type { Config } from '../config/load-config.js';
import type { PolicyObject, Verdict } from '../config/resource-policies.js';
import { systemEvent } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import type { PolicySet } from '../domain/policy/types.js';
import type { PolicyHolder } from './policy-holder.js';
import type { Store } from './ports.js';

export type JudgeObjects = (
  file: Config['parsed'],
  fileName: string,
  objects: PolicyObject[],
) => { set: PolicySet; verdicts: Verdict[] };

/**
 * The policy set in force when policies come from two places, the config file and AccessPolicy /
 * AccessProfile objects in the home cluster: whichever changes, the set is judged again from the latest
 * of both, audited (PolicyReloaded, naming what changed) and swapped in whole. Each verdict on an object
 * is handed on, for its status.
 */
export function createResourcePolicies(deps: {
  holder: PolicyHolder;
  store: Pick<Store, 'appendAudit'>;
  clock: Clock;
  running: Config;
  judge: JudgeObjects;
  onVerdicts: (verdicts: Verdict[]) => void;
}) {
  let file = deps.running.parsed;
  let objects: PolicyObject[] = [];
  let chain: Promise<void> = Promise.resolve();
  const latest = () => deps.judge(file, deps.running.file, objects);

  async function objectsChanged(next: PolicyObject[]): Promise<void> {
    objects = next;
    const { set, verdicts } = latest();
    deps.onVerdicts(verdicts);
    const previous = deps.holder.current();
    if (set.digest === previous.digest) return;
    await deps.store.appendAudit([
      systemEvent(deps.clock.now(), 'PolicyReloaded', {
        source: 'resources',
        digest: set.digest,
        previousDigest: previous.digest,
        policies: set.policies.length,
        profiles: set.profiles.length,
        refused: verdicts.filter((v) => !v.accepted).map((v) => `${v.object.kind}/${v.object.name}`),
      }),
    ]);
    deps.holder.replace(latest().set);
  }

  return {
    /** The objects as the cluster now holds them; changes are applied one after another. */
    objectsChanged(next: PolicyObject[]): Promise<void> {
      chain = chain.then(() => objectsChanged(next));
      return chain;
    },
    /** For the config watcher: the set a new file puts in force, with the objects judged against it. */
    setOf(next: Config): PolicySet {
      file = next.parsed;
      const { set, verdicts } = latest();
      deps.onVerdicts(verdicts);
      return set;
    },
    /**
     * The holder the config watcher swaps sets into: whatever it computed, what goes in is the latest of
     * file and objects, so a reload racing a change of objects never puts an older set back.
     */
    holder: {
      current: () => deps.holder.current(),
      replace: () => deps.holder.replace(latest().set),
    } satisfies PolicyHolder,
  };
}
export type ResourcePolicies = ReturnType<typeof createResourcePolicies>;
