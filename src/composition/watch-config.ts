import type { Logger } from 'pino';
import type { Config } from '../config/load-config.js';
import type { Clock } from '../domain/clock.js';
import { createConfigWatcher } from '../jobs/config-watcher.js';
import type { PolicyHolder } from '../services/policy-holder.js';
import type { Store } from '../services/ports.js';
import type { ResourcePolicies } from '../services/resource-policies.js';

/** The config watcher, logging what each change did: reloaded, refused, or waiting for a restart. */
export function watchConfig(
  config: Config,
  deps: {
    holder: PolicyHolder;
    store: Store;
    clock: Clock;
    logger: Logger;
    /** With policies from custom resources too: the set a new file puts in force, merged with theirs. */
    resources?: Pick<ResourcePolicies, 'holder' | 'setOf'> | null;
  },
) {
  const { logger } = deps;
  return createConfigWatcher({
    file: config.file,
    running: config,
    holder: deps.resources?.holder ?? deps.holder,
    ...(deps.resources ? { policySetOf: deps.resources.setOf } : {}),
    store: deps.store,
    clock: deps.clock,
    onReloaded: (r) => logger.info({ file: config.file, ...r }, 'config changed: policy set reloaded'),
    onInvalid: (reason) =>
      logger.warn(
        { file: config.file, reason },
        'config change not applied: keeping the policy set in force',
      ),
    onRestartNeeded: (fields) =>
      logger.warn({ file: config.file, fields }, 'config change needs a restart to apply these fields'),
    onError: (err) =>
      logger.error(
        { file: config.file, err: err.message },
        'could not check or apply a config change; will retry',
      ),
  });
}
