import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashedTokenField, parseTokenFile } from '../../src/adapters/auth/token-file.js';
import { createTokenFileAuthenticator } from '../../src/adapters/auth/token-file-authenticator.js';
import type { Authenticator } from '../../src/services/ports.js';

/** The identity a token proves, or null; a refusal fails the test (the token file never refuses). */
async function who(auth: Authenticator, token: string) {
  const outcome = await auth.authenticate(token);
  if (outcome && 'refused' in outcome) throw new Error(`unexpected refusal: ${outcome.refused}`);
  return outcome?.identity ?? null;
}

/**
 * One whole second for every version of a test's token file. Set with utimes, not slept for: the mtime
 * then stays exactly the same across a rewrite (a Date or a read-back mtime would lose the nanoseconds),
 * as it does for two writes within one tick of the file system's clock.
 */
const fixedMtime = 1_700_000_000;

function tokenFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'elevate-tokens-')), 'tokens.csv');
  writeFileSync(file, text);
  utimesSync(file, fixedMtime, fixedMtime);
  return file;
}

/** Writes `text` and sets the mtime back to exactly what it was. */
function rewriteKeepingMtime(file: string, text: string): void {
  const before = statSync(file, { bigint: true }).mtimeNs;
  writeFileSync(file, text);
  utimesSync(file, fixedMtime, fixedMtime);
  expect(statSync(file, { bigint: true }).mtimeNs).toBe(before);
}

describe('token file authenticator', () => {
  it('reads kube-apiserver --token-auth-file lines, with quoted groups', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'elevate-tokens-'));
    const file = join(dir, 'tokens.csv');
    writeFileSync(file, '# comment\nt-alice,alice,u1,"devs,oncall"\nt-bob,bob,u2,sre-leads\nt-carol,carol\n');
    const auth = createTokenFileAuthenticator(file);
    expect(await who(auth, 't-alice')).toEqual({ user: 'alice', uid: 'u1', groups: ['devs', 'oncall'] });
    expect(await who(auth, 't-bob')).toEqual({ user: 'bob', uid: 'u2', groups: ['sre-leads'] });
    expect(await who(auth, 't-carol')).toEqual({ user: 'carol', groups: [] });
    expect(await who(auth, 't-nobody')).toBeNull();
    expect(await who(auth, '')).toBeNull();
  });

  it('keeps only digests of the tokens in memory', async () => {
    const parsed = parseTokenFile('secret-token-value,alice\n', 'tokens.csv');
    expect(JSON.stringify([...parsed])).not.toContain('secret-token-value');
  });

  it('accepts tokens written as their sha256 digest, so the file holds no usable secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'elevate-tokens-'));
    const file = join(dir, 'tokens.csv');
    const field = hashedTokenField('s3cret-token');
    expect(field).toMatch(/^sha256:[0-9a-f]{64}$/);
    writeFileSync(file, `${field},alice,u1,devs\n`);
    const auth = createTokenFileAuthenticator(file);
    expect((await who(auth, 's3cret-token'))?.user).toBe('alice');
    expect(await who(auth, field)).toBeNull();
    expect(() => parseTokenFile('sha256:abc,alice\n', 'f.csv')).toThrow(
      /f\.csv:1: sha256: must be followed by 64 hex/,
    );
  });

  it('rejects malformed lines and duplicate tokens with the line number', async () => {
    expect(() => parseTokenFile('only-a-token\n', 'f.csv')).toThrow(/f\.csv:1: expected token,user/);
    expect(() => parseTokenFile('a,alice\na,bob\n', 'f.csv')).toThrow(/f\.csv:2: duplicate token/);
  });

  it('picks up a rotated file without a restart, even when the mtime has not moved', async () => {
    const file = tokenFile('old,alice\n');
    const auth = createTokenFileAuthenticator(file);
    expect((await who(auth, 'old'))?.user).toBe('alice');
    // Same length as before, too: only the content tells the two versions apart.
    rewriteKeepingMtime(file, 'new,alice\n');
    expect(await who(auth, 'old')).toBeNull();
    expect((await who(auth, 'new'))?.user).toBe('alice');
  });

  it.each([
    ['a line that does not parse', 'new,alice\nbroken-line\n', /tokens\.csv:2: expected token,user/],
    ['a duplicate token', 'new,alice\nnew,bob\n', /tokens\.csv:2: duplicate token/],
    ['an empty file (truncated, not yet rewritten)', '', /empty, taken as still being written/],
    ['a file cut inside its last line', 'new,alice\nbob-tok', /last line has no newline/],
  ])(
    'keeps the last good set after %s, reports it once, and takes the next good version',
    async (_what, bad, message) => {
      const file = tokenFile('old,alice\nold-bob,bob\n');
      const errors: string[] = [];
      const auth = createTokenFileAuthenticator(file, (e) => errors.push(e.message));
      expect((await who(auth, 'old'))?.user).toBe('alice');

      rewriteKeepingMtime(file, bad);
      expect((await who(auth, 'old'))?.user).toBe('alice');
      expect((await who(auth, 'old-bob'))?.user).toBe('bob');
      expect(await who(auth, 'new')).toBeNull();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(message);

      rewriteKeepingMtime(file, 'new,alice\nnew-bob,bob\n');
      expect(await who(auth, 'old')).toBeNull();
      expect((await who(auth, 'new-bob'))?.user).toBe('bob');
      expect(errors).toHaveLength(1);
    },
  );

  it('keeps the last good set while the file is missing, and reports that once', async () => {
    const file = tokenFile('old,alice\n');
    const errors: string[] = [];
    const auth = createTokenFileAuthenticator(file, (e) => errors.push(e.message));
    rmSync(file);
    expect((await who(auth, 'old'))?.user).toBe('alice');
    expect((await who(auth, 'old'))?.user).toBe('alice');
    expect(errors).toEqual([`cannot read token file ${file}: ENOENT`]);
    writeFileSync(file, 'new,alice\n');
    expect((await who(auth, 'new'))?.user).toBe('alice');
  });

  it('takes a first file without a final newline, as kube-apiserver does', async () => {
    expect((await who(createTokenFileAuthenticator(tokenFile('t,alice')), 't'))?.user).toBe('alice');
  });
});
