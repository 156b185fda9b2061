import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { type Config, parseConfig } from '../config/load-config.js';
import { systemEvent } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import type { PolicySet } from '../domain/policy/types.js';
import type { PolicyHolder } from '../services/policy-holder.js';
import type { Store } from '../services/ports.js';

export interface PolicyReload {
  digest: string;
  previousDigest: string;
  policies: number;
  profiles: number;
}

export interface ConfigWatcherDeps {
  /** The config file, absolute. */
  file: string;
  /** The config the server started with: what fields needing a restart are compared against. */
  running: Config;
  holder: PolicyHolder;
  /** The set a valid file puts in force; its own policySet unless policies also come from elsewhere. */
  policySetOf?: (next: Config) => PolicySet;
  store: Pick<Store, 'appendAudit'>;
  clock: Clock;
  /** The fallback for changes fs.watch does not report (network file systems, some mounts). */
  pollEveryMs?: number;
  /** After a change is reported, wait this long for more, so an editor's write-then-rename is read once. */
  settleMs?: number;
  onReloaded: (reload: PolicyReload) => void;
  /** The file changed but cannot be read or does not validate; the set in force stays. */
  onInvalid: (reason: string) => void;
  /** The file changed fields that are only read at start; they are not applied. */
  onRestartNeeded: (fields: string[]) => void;
  /** The reload could not be audited (it is not applied, and is tried again at the next poll), or a check failed. */
  onError: (error: Error) => void;
}

/**
 * Watches the config file and puts a changed policy set (policies, profiles, guardrails, limits, cluster
 * labels) in force without a restart. The directory is watched, not the file: editors and `mv` replace
 * the file by a rename, which leaves a watch on the old file's inode silent. A slow poll backs it up.
 *
 * Changes are found by a sha256 of the file's bytes (like the token file), and the whole file is parsed
 * again: a version that does not validate changes nothing and is reported once. A valid version whose set
 * differs from the one in force is audited (PolicyReloaded) and then swapped in. Each server watches and
 * audits its own reload.
 */
export function createConfigWatcher(deps: ConfigWatcherDeps) {
  const { file, holder } = deps;
  const pollEveryMs = deps.pollEveryMs ?? 10_000;
  const settleMs = deps.settleMs ?? 200;
  let seen: string | null = null;
  let chain: Promise<void> = Promise.resolve();
  let watcher: FSWatcher | null = null;
  let poll: NodeJS.Timeout | null = null;
  let settle: NodeJS.Timeout | null = null;
  let stopped = false;

  async function check(): Promise<void> {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (e) {
      if (seen === 'unreadable') return;
      seen = 'unreadable';
      deps.onInvalid(
        `${file}: cannot read config: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
      return;
    }
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest === seen) return;
    seen = digest;
    let next: Config;
    try {
      next = parseConfig(bytes.toString('utf8'), file);
    } catch (e) {
      deps.onInvalid((e as Error).message);
      return;
    }
    const restart = fieldsNeedingRestart(deps.running, next);
    if (restart.length > 0) deps.onRestartNeeded(restart);
    const previous = holder.current();
    const set = deps.policySetOf?.(next) ?? next.policySet;
    if (set.digest === previous.digest) return;
    const reload: PolicyReload = {
      digest: set.digest,
      previousDigest: previous.digest,
      policies: set.policies.length,
      profiles: set.profiles.length,
    };
    try {
      await deps.store.appendAudit([systemEvent(deps.clock.now(), 'PolicyReloaded', { file, ...reload })]);
    } catch (e) {
      // Nothing is put in force unaudited; forgetting the digest makes the next poll try again.
      seen = null;
      deps.onError(e as Error);
      return;
    }
    holder.replace(set);
    deps.onReloaded(reload);
  }

  /** Checks are queued, never run side by side: each sees the set the one before left. */
  function checkNow(): Promise<void> {
    // A check that fails unexpectedly is reported and does not stop the next one (nor the server's start).
    chain = chain.then(check).catch((e: Error) => deps.onError(e));
    return chain;
  }

  function changed(): void {
    if (stopped) return;
    if (settle) clearTimeout(settle);
    settle = setTimeout(() => {
      settle = null;
      void checkNow();
    }, settleMs);
  }

  return {
    /** Starts watching; the first check catches a change made since the config was loaded. */
    async start(): Promise<void> {
      stopped = false;
      const name = basename(file);
      try {
        watcher = watch(dirname(file), (_event, changedName) => {
          if (changedName === null || changedName === name) changed();
        });
        // A directory that goes away ends the watch; the poll still sees the file when it is back.
        watcher.on('error', () => {
          watcher?.close();
          watcher = null;
        });
      } catch {
        watcher = null;
      }
      poll = setInterval(() => void checkNow(), pollEveryMs);
      poll.unref();
      await checkNow();
    },
    async stop(): Promise<void> {
      stopped = true;
      watcher?.close();
      watcher = null;
      if (poll) clearInterval(poll);
      if (settle) clearTimeout(settle);
      poll = settle = null;
      await chain;
    },
    checkNow,
  };
}

export type ConfigWatcher = ReturnType<typeof createConfigWatcher>;

/**
 * Fields read once at start (listeners, storage, credentials, clusters' connections, jobs' timing): a
 * changed value is reported, not applied. Cluster labels are not among them: they belong to the policy set.
 */
export function fieldsNeedingRestart(running: Config, next: Config): string[] {
  const connection = (c: Config) =>
    c.clusters.map(({ name, kubeconfigPath, context, subjects }) => ({
      name,
      kubeconfigPath,
      context,
      subjects,
    }));
  const fields: [string, (c: Config) => unknown][] = [
    ['listen', (c) => c.listen],
    ['storage', (c) => c.storage],
    ['tls', (c) => c.tls],
    ['auth', (c) => c.auth],
    ['clusters', connection],
    ['metrics', (c) => c.metrics],
    ['reconcile', (c) => c.reconcileIntervalMs],
    ['logLevel', (c) => c.logLevel],
    ['secrets', (c) => c.secretsKeyFile],
    ['tickets', (c) => c.tickets],
    ['integrations', (c) => c.integrations],
    ['breakglass', (c) => c.breakglass],
    ['audit', (c) => c.auditSinks],
    ['notifications', (c) => c.notifications],
    ['home', (c) => c.home],
    ['clusters[].activity', (c) => c.clusters.map((cl) => [cl.name, cl.activityTokenFile])],
    ['clusters[].authorization', (c) => c.clusters.map((cl) => [cl.name, cl.authorizationTokenFile])],
  ];
  return fields.filter(([, of]) => JSON.stringify(of(running)) !== JSON.stringify(of(next))).map(([f]) => f);
}
