import type { Logger } from 'pino';
import { watchPolicyObjects } from '../adapters/kube/policy-objects.js';
import type { Config } from '../config/load-config.js';
import { judgePolicyObjects, type Verdict } from '../config/resource-policies.js';
import type { Clock } from '../domain/clock.js';
import type { PolicyHolder } from '../services/policy-holder.js';
import type { Store } from '../services/ports.js';
import { createResourcePolicies } from '../services/resource-policies.js';

/**
 * Policies and profiles from AccessPolicy / AccessProfile objects in the home cluster (config `home`),
 * joined with the file's; null without a home cluster. Every server watches and judges on its own, like
 * the config file; each writes the same statuses (server-side apply keeps that idempotent).
 */
export function buildResourcePolicies(
  config: Config,
  deps: { holder: PolicyHolder; store: Store; clock: Clock; logger: Logger },
) {
  const home = config.home;
  const cluster = home ? config.clusters.find((c) => c.name === home.cluster) : undefined;
  if (!home || !cluster) return null;
  const { logger } = deps;
  let watch: ReturnType<typeof watchPolicyObjects> | undefined;
  const told = new Map<string, string>();
  const onVerdicts = (verdicts: Verdict[]) => {
    for (const v of verdicts) {
      const key = `${v.object.kind}/${v.object.name}`;
      if (told.get(key) !== v.message) {
        told.set(key, v.message);
        if (v.accepted) logger.info({ object: key }, v.message);
        else logger.warn({ object: key, reason: v.message }, 'custom resource refused; it has no effect');
      }
      watch
        ?.writeStatus(v)
        .catch((err: Error) =>
          logger.warn({ object: key, err: err.message }, 'could not write the object’s status; will retry'),
        );
    }
  };
  const policies = createResourcePolicies({
    holder: deps.holder,
    store: deps.store,
    clock: deps.clock,
    running: config,
    judge: judgePolicyObjects,
    onVerdicts,
  });
  return {
    policies,
    start(): void {
      watch = watchPolicyObjects(cluster, {
        onChange: (objects) =>
          void policies
            .objectsChanged(objects)
            .catch((err: Error) =>
              logger.error({ err: err.message }, 'could not put the custom resources’ policies in force'),
            ),
        onError: (err) =>
          logger.warn(
            { cluster: home.cluster, err: err.message },
            'watching AccessPolicy/AccessProfile failed; retrying',
          ),
      });
    },
    stop(): void {
      watch?.stop();
    },
  };
}
