import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createTokenFileAuthenticator,
  hashedTokenField,
  parseTokenFile,
} from '../../src/adapters/auth/token-file-authenticator.js';

describe('token file authenticator', () => {
  it('reads kube-apiserver --token-auth-file lines, with quoted groups', () => {
    const dir = mkdtempSync(join(tmpdir(), 'elevate-tokens-'));
    const file = join(dir, 'tokens.csv');
    writeFileSync(file, '# comment\nt-alice,alice,u1,"devs,oncall"\nt-bob,bob,u2,sre-leads\nt-carol,carol\n');
    const auth = createTokenFileAuthenticator(file);
    expect(auth.authenticate('t-alice')).toEqual({ user: 'alice', uid: 'u1', groups: ['devs', 'oncall'] });
    expect(auth.authenticate('t-bob')).toEqual({ user: 'bob', uid: 'u2', groups: ['sre-leads'] });
    expect(auth.authenticate('t-carol')).toEqual({ user: 'carol', groups: [] });
    expect(auth.authenticate('t-nobody')).toBeNull();
    expect(auth.authenticate('')).toBeNull();
  });

  it('keeps only digests of the tokens in memory', () => {
    const parsed = parseTokenFile('secret-token-value,alice\n', 'tokens.csv');
    expect(JSON.stringify([...parsed])).not.toContain('secret-token-value');
  });

  it('accepts tokens written as their sha256 digest, so the file holds no usable secret', () => {
    const dir = mkdtempSync(join(tmpdir(), 'elevate-tokens-'));
    const file = join(dir, 'tokens.csv');
    const field = hashedTokenField('s3cret-token');
    expect(field).toMatch(/^sha256:[0-9a-f]{64}$/);
    writeFileSync(file, `${field},alice,u1,devs\n`);
    const auth = createTokenFileAuthenticator(file);
    expect(auth.authenticate('s3cret-token')?.user).toBe('alice');
    expect(auth.authenticate(field)).toBeNull();
    expect(() => parseTokenFile('sha256:abc,alice\n', 'f.csv')).toThrow(
      /f\.csv:1: sha256: must be followed by 64 hex/,
    );
  });

  it('rejects malformed lines and duplicate tokens with the line number', () => {
    expect(() => parseTokenFile('only-a-token\n', 'f.csv')).toThrow(/f\.csv:1: expected token,user/);
    expect(() => parseTokenFile('a,alice\na,bob\n', 'f.csv')).toThrow(/f\.csv:2: duplicate token/);
  });

  it('picks up a rotated file without a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'elevate-tokens-'));
    const file = join(dir, 'tokens.csv');
    writeFileSync(file, 'old,alice\n');
    const auth = createTokenFileAuthenticator(file);
    expect(auth.authenticate('old')?.user).toBe('alice');
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(file, 'new,alice\n');
    expect(auth.authenticate('old')).toBeNull();
    expect(auth.authenticate('new')?.user).toBe('alice');
  });
});
