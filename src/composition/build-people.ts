import type { Logger } from 'pino';
import type { Config } from '../config/load-config.js';
import type { Clock } from '../domain/clock.js';
import { createOnBehalf } from '../services/on-behalf.js';
import { createPeopleDirectory } from '../services/people-directory.js';
import type { Authenticator, Store } from '../services/ports.js';

/**
 * People as Elevate has seen them, and integrations asking for them: every identity an authenticator proves
 * is remembered (groups, source) — what an integration's request for that person is judged with.
 */
export function buildPeople(
  config: Config,
  deps: { store: Store; clock: Clock; logger: Logger; authenticator: Authenticator },
) {
  const people = createPeopleDirectory({
    store: deps.store,
    clock: deps.clock,
    isIntegration: (user) => config.integrations.some((i) => i.users.includes(user)),
    onError: (err) => deps.logger.warn({ err: err.message }, 'could not record who signed in'),
  });
  const onBehalf = createOnBehalf({
    integrations: config.integrations,
    people,
    defaultSource: config.auth.oidc
      ? { kind: 'oidc', issuer: config.auth.oidc.issuer }
      : { kind: 'token-file' },
  });
  return { people, onBehalf, authenticator: people.recording(deps.authenticator) };
}
