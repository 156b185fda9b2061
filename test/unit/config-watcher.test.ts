import { linkSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store.js';
import { loadConfig } from '../../src/config/load-config.js';
import { type ConfigWatcher, createConfigWatcher, type PolicyReload } from '../../src/jobs/config-watcher.js';
import { createPolicyHolder, type PolicyHolder } from '../../src/services/policy-holder.js';
import type { Store } from '../../src/services/ports.js';

const base = (extra = '') => `storage: sqlite:./elevate.db
auth:
  tokenFile: ./tokens.csv
clusters:
  - name: dev
    kubeconfig: ./dev.kubeconfig
policies:
  - name: view
    match: { groups: [devs], roles: [view] }
    decision: auto
${extra}`;

const clock = { now: () => new Date('2026-03-02T10:00:00Z') };

let dir: string;
let file: string;
let store: Store;
let holder: PolicyHolder;
let watcher: ConfigWatcher;
let reloads: PolicyReload[];
let invalid: string[];
let restart: string[][];
let errors: Error[];

function startWatching(pollEveryMs = 60_000) {
  const running = loadConfig(file);
  holder = createPolicyHolder(running.policySet);
  watcher = createConfigWatcher({
    file,
    running,
    holder,
    store,
    clock,
    pollEveryMs,
    settleMs: 20,
    onReloaded: (r) => reloads.push(r),
    onInvalid: (reason) => invalid.push(reason),
    onRestartNeeded: (fields) => restart.push(fields),
    onError: (e) => errors.push(e),
  });
  return watcher.start();
}

const reloadEvents = async () => (await store.listAudit()).filter((e) => e.action === 'PolicyReloaded');

async function until(what: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'elevate-watch-'));
  file = join(dir, 'elevate.yaml');
  writeFileSync(file, base());
  store = await openSqliteStore(join(dir, 'audit.db'));
  reloads = [];
  invalid = [];
  restart = [];
  errors = [];
});

afterEach(async () => {
  await watcher?.stop();
  await store.close();
});

describe('config watcher', () => {
  it('swaps in a valid changed policy set and audits PolicyReloaded', async () => {
    await startWatching();
    const before = holder.current();
    expect(reloads).toEqual([]);
    writeFileSync(
      file,
      base(`  - name: edit
    match: { groups: [devs], roles: [edit] }
    decision: deny
profiles:
  - name: oncall
    targets: [{ cluster: dev, namespace: payments, role: edit }]
`),
    );
    await watcher.checkNow();
    const after = holder.current();
    expect(after.policies.map((p) => p.name)).toEqual(['view', 'edit']);
    expect(after.digest).not.toBe(before.digest);
    expect(reloads).toEqual([
      { digest: after.digest, previousDigest: before.digest, policies: 2, profiles: 1 },
    ]);
    const events = await reloadEvents();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: 'system:elevate',
      requestId: null,
      cluster: null,
      details: { file, digest: after.digest, previousDigest: before.digest, policies: 2, profiles: 1 },
    });
    expect(await store.verifyAuditChain()).toBeNull();
    expect(invalid).toEqual([]);
    expect(restart).toEqual([]);
  });

  it('keeps the set in force when the change does not validate, and says why once', async () => {
    await startWatching();
    const before = holder.current();
    writeFileSync(file, base('    maxDuration: soon\n'));
    await watcher.checkNow();
    await watcher.checkNow();
    expect(holder.current()).toBe(before);
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toBe(
      `${file}: policies[0].maxDuration: "soon" is not a duration (use e.g. 90s, 30m, 1h30m)`,
    );
    expect(await reloadEvents()).toEqual([]);
    // Fixed again: applied.
    writeFileSync(file, base('    maxDuration: 2h\n'));
    await watcher.checkNow();
    expect(holder.current().policies[0]?.maxDurationMs).toBe(7_200_000);
    expect(await reloadEvents()).toHaveLength(1);
  });

  it('does nothing when the content is unchanged, or changes without changing the set', async () => {
    await startWatching();
    const before = holder.current();
    writeFileSync(file, base());
    await watcher.checkNow();
    writeFileSync(file, `# a comment changes the bytes, not the set\n${base()}`);
    await watcher.checkNow();
    expect(holder.current()).toBe(before);
    expect(reloads).toEqual([]);
    expect(invalid).toEqual([]);
    expect(await reloadEvents()).toEqual([]);
  });

  it('reports fields that need a restart and does not apply them, but applies the policy change', async () => {
    await startWatching();
    writeFileSync(
      file,
      base('    maxDuration: 30m\n')
        .replace('storage: sqlite:./elevate.db', 'storage: sqlite:./other.db\nlisten: 127.0.0.1:9999')
        .replace('kubeconfig: ./dev.kubeconfig', 'kubeconfig: ./dev.kubeconfig\n    labels: { env: dev }'),
    );
    await watcher.checkNow();
    // Cluster labels belong to the policy set: hot, not a restart.
    expect(restart).toEqual([['listen', 'storage']]);
    expect(holder.current().clusterLabels).toEqual({ dev: { env: 'dev' } });
    expect(reloads).toHaveLength(1);
  });

  it('sees an editor-style replace (write a new file, rename it over the old) through the directory watch', async () => {
    await startWatching();
    const tmp = join(dir, '.elevate.yaml.swp');
    writeFileSync(tmp, base('    maxDuration: 45m\n'));
    renameSync(tmp, file);
    await until(() => reloads.length === 1);
    expect(holder.current().policies[0]?.maxDurationMs).toBe(2_700_000);
    // And again: the watch survives the rename.
    writeFileSync(tmp, base('    maxDuration: 20m\n'));
    renameSync(tmp, file);
    await until(() => reloads.length === 2);
    expect(holder.current().policies[0]?.maxDurationMs).toBe(1_200_000);
    expect(await reloadEvents()).toHaveLength(2);
  });

  it('falls back to polling', async () => {
    await startWatching(50);
    // Written through a hard link in another directory: inotify tells the watched directory nothing (as a
    // network file system would not), so only the poll can see it.
    const elsewhere = join(mkdtempSync(join(tmpdir(), 'elevate-watch-link-')), 'same-inode.yaml');
    linkSync(file, elsewhere);
    writeFileSync(elsewhere, base('    maxDuration: 10m\n'));
    await until(() => reloads.length === 1);
    expect(holder.current().policies[0]?.maxDurationMs).toBe(600_000);
  });

  it('applies nothing unaudited: a failed audit write keeps the set and is retried', async () => {
    await startWatching();
    const before = holder.current();
    const realAppend = store.appendAudit.bind(store);
    let fail = true;
    store.appendAudit = async (events) => {
      if (fail) throw new Error('database is locked');
      return realAppend(events);
    };
    writeFileSync(file, base('    maxDuration: 10m\n'));
    await watcher.checkNow();
    expect(holder.current()).toBe(before);
    expect(errors.map((e) => e.message)).toEqual(['database is locked']);
    fail = false;
    await watcher.checkNow();
    expect(holder.current().policies[0]?.maxDurationMs).toBe(600_000);
    expect(await reloadEvents()).toHaveLength(1);
  });

  it('reports an unreadable file once and keeps the set', async () => {
    await startWatching();
    const before = holder.current();
    renameSync(file, join(dir, 'moved.yaml'));
    await watcher.checkNow();
    await watcher.checkNow();
    expect(invalid).toEqual([`${file}: cannot read config: ENOENT`]);
    expect(holder.current()).toBe(before);
  });
});
