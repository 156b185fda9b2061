import type { Clock } from '../domain/clock.js';
import type { Identity, IdentitySource } from '../domain/identity.js';
import type { Authenticator, KnownIdentity, Store } from './ports.js';

/** How often one server records the same person's sign-in: their groups change rarely, requests often. */
const recordEveryMs = 5 * 60_000;

export interface PeopleDirectory {
  /** The identity the person last signed in with (their groups, how they signed in); null: never seen. */
  lookup(user: string): Promise<KnownIdentity | null>;
}

export interface PeopleDirectoryDeps {
  store: Pick<Store, 'recordIdentitySeen' | 'getKnownIdentity'>;
  clock: Clock;
  /** Integration identities act for people; they are not people whose groups anyone asks for. */
  isIntegration: (user: string) => boolean;
  onError: (error: Error) => void;
}

/**
 * Who people are, as far as Elevate has seen them: an integration asking for someone names only a user, and
 * the person's groups (what policies and an integration's mayRequestFor judge) are those of their last
 * sign-in. Recording rides on authentication, at most once per person per five minutes per server, and
 * never holds up the call that authenticated.
 */
export function createPeopleDirectory(deps: PeopleDirectoryDeps) {
  const lastRecorded = new Map<string, { at: number; groups: string; source: string }>();

  function seen(identity: Identity): void {
    if (deps.isIntegration(identity.user)) return;
    const now = deps.clock.now();
    const source: IdentitySource = identity.source ?? { kind: 'token-file' };
    const groups = JSON.stringify(identity.groups);
    const sourceText = JSON.stringify(source);
    const last = lastRecorded.get(identity.user);
    // A change of groups is recorded at once: a person removed from a group must not keep it here.
    if (
      last &&
      now.getTime() - last.at < recordEveryMs &&
      last.groups === groups &&
      last.source === sourceText
    )
      return;
    if (lastRecorded.size > 100_000) lastRecorded.clear();
    lastRecorded.set(identity.user, { at: now.getTime(), groups, source: sourceText });
    deps.store
      .recordIdentitySeen({ user: identity.user, groups: identity.groups, source, seenAt: now })
      .catch((e: Error) => deps.onError(e));
  }

  return {
    lookup: (user: string) => deps.store.getKnownIdentity(user),
    seen,
    /** The authenticator, telling the directory of every identity it proves. */
    recording(inner: Authenticator): Authenticator {
      return {
        ...inner,
        async authenticate(token) {
          const outcome = await inner.authenticate(token);
          if (outcome && 'identity' in outcome) seen(outcome.identity);
          return outcome;
        },
      };
    },
  };
}
