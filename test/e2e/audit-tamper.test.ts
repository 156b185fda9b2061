import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { composeElevate, createLogger } from '../../src/composition-root.js';
import { parseConfig } from '../../src/config/load-config.js';
import { elevateCli, repo } from '../support/cli.js';
import { apiFor, requestBody, writeElevateConfig } from '../support/elevate.js';
import { createNamespace, elevateKubeconfig, testKubeconfig, uniqueName } from '../support/kube.js';

let ns: string;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  expect(existsSync(join(repo, 'dist/cli/main.js')), 'run `make build` first').toBe(true);
  ns = uniqueName('tamper');
  await createNamespace(testKubeconfig('dev'), ns);
});

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/** A server of its own (each test breaks its trail), with the path of its SQLite file. */
async function serverWithDatabase() {
  const file = writeElevateConfig({ clusters: { dev: elevateKubeconfig('dev') } });
  const elevate = await composeElevate(parseConfig(readFileSync(file, 'utf8'), file), createLogger('silent'));
  const url = await elevate.start();
  stops.push(() => elevate.stop());
  const database = join(dirname(file), 'elevate.db');
  /** A few events: a grant asked for, activated and revoked. */
  const someEvents = async () => {
    const res = await apiFor(url, 'token-alice').post(
      '/api/v1/accessrequests',
      requestBody({ role: 'view', namespace: ns, duration: '30m' }),
    );
    expect(res.body.status.phase).toBe('Active');
    await apiFor(url, 'token-alice').post(`/api/v1/accessrequests/${res.body.metadata.name}/revoke`, {});
  };
  /** What someone with write access to the database file might do, behind Elevate's back. */
  const tamper = (sql: string, ...params: unknown[]) => {
    const db = new Database(database);
    try {
      return db.prepare(sql).run(...params).changes;
    } finally {
      db.close();
    }
  };
  return { elevate: elevateCli(url), someEvents, tamper };
}

const headOf = (stdout: string) => {
  const m = /^head: (\d+):([0-9a-f]{64})$/m.exec(stdout);
  if (!m) throw new Error(`no head in ${JSON.stringify(stdout)}`);
  return { seq: Number(m[1]), hash: m[2] as string, text: `${m[1]}:${m[2]}` };
};

describe('elevate audit verify', () => {
  it('exits 1 and names the first broken event when an event in the middle is deleted', async () => {
    const { elevate, someEvents, tamper } = await serverWithDatabase();
    await someEvents();
    await someEvents();
    const intact = await elevate('root', 'audit', 'verify');
    expect(intact.code, intact.stderr).toBe(0);
    expect(intact.stdout).toMatch(/^audit chain intact\nhead: \d+:[0-9a-f]{64}\n$/);
    const head = headOf(intact.stdout);
    expect(head.seq).toBeGreaterThanOrEqual(6);

    const deleted = head.seq - 3;
    expect(tamper('delete from audit_events where seq = ?', deleted)).toBe(1);
    const broken = await elevate('root', 'audit', 'verify');
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`audit chain broken at event ${deleted + 1}`);
    expect(broken.stdout).not.toContain('intact');
    // The head is still printed: it is what is there now, not a claim that it is sound.
    expect(headOf(broken.stdout).text).toBe(head.text);
    const json = JSON.parse((await elevate('root', 'audit', 'verify', '-o', 'json')).stdout);
    expect(json).toMatchObject({ intact: false, firstBrokenSeq: deleted + 1 });
  });

  it('exits 1 when an event is edited', async () => {
    const { elevate, someEvents, tamper } = await serverWithDatabase();
    await someEvents();
    const { seq } = headOf((await elevate('root', 'audit', 'verify')).stdout);
    expect(tamper(`update audit_events set actor = 'mallory' where seq = ?`, seq - 1)).toBe(1);
    const broken = await elevate('root', 'audit', 'verify');
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`audit chain broken at event ${seq - 1}`);
  });

  it('cannot see the newest events deleted on its own, but --expect-head with a head kept earlier does', async () => {
    const { elevate, someEvents, tamper } = await serverWithDatabase();
    await someEvents();
    const older = headOf((await elevate('root', 'audit', 'verify')).stdout);
    await someEvents();
    const newest = headOf((await elevate('root', 'audit', 'verify')).stdout);
    expect(newest.seq).toBeGreaterThan(older.seq);

    expect(tamper('delete from audit_events where seq > ?', older.seq)).toBe(newest.seq - older.seq);
    // What is left is a sound chain: this is the limit of a hash chain, and why the head is printed.
    const plain = await elevate('root', 'audit', 'verify');
    expect(plain.code, plain.stderr).toBe(0);
    expect(headOf(plain.stdout).text).toBe(older.text);

    const truncated = await elevate('root', 'audit', 'verify', '--expect-head', newest.text);
    expect(truncated.code).toBe(1);
    expect(truncated.stderr).toContain(
      `expected head ${newest.text} is not in the trail: events were deleted or rewritten`,
    );
    expect(truncated.stdout).toContain(`head: ${older.text}`);
    const json = JSON.parse(
      (await elevate('root', 'audit', 'verify', '--expect-head', newest.text, '-o', 'json')).stdout,
    );
    expect(json).toEqual({
      intact: false,
      firstBrokenSeq: null,
      head: { seq: older.seq, hash: older.hash },
      expectedHead: { seq: newest.seq, hash: newest.hash, present: false },
    });

    // A head that is still there passes; the same seq with another hash does not.
    const stillThere = await elevate('root', 'audit', 'verify', '--expect-head', older.text);
    expect(stillThere.code, stillThere.stderr).toBe(0);
    const otherHash = await elevate(
      'root',
      'audit',
      'verify',
      '--expect-head',
      `${older.seq}:${newest.hash}`,
    );
    expect(otherHash.code).toBe(1);
  });

  it('checks --expect-head before asking the server, and is for admins only', async () => {
    const { elevate } = await serverWithDatabase();
    const bad = await elevate('root', 'audit', 'verify', '--expect-head', '0:abc');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('SEQ must be a positive integer, got "0"');
    const short = await elevate('root', 'audit', 'verify', '--expect-head', `3:${'a'.repeat(63)}`);
    expect(short.stderr).toContain('HASH must be 64 hex digits (SHA-256), got 63');
    const notAdmin = await elevate('alice', 'audit', 'verify');
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr).toMatch(/HTTP 403/);
  });
});
