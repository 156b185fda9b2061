import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createSecretBox,
  loadSecretBox,
  parseKey,
  SecretKeyError,
} from '../../src/adapters/crypto/secret-box.js';

const key = randomBytes(32);

describe('secret box', () => {
  it('seals the same secret differently each time, and opens every one', () => {
    const box = createSecretBox(key);
    const a = box.seal('JBSWY3DPEHPK3PXP');
    const b = box.seal('JBSWY3DPEHPK3PXP');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^v1:[\w-]{16}:[\w-]{22}:[\w-]+$/);
    expect(a).not.toContain('JBSWY3DPEHPK3PXP');
    expect(box.open(a)).toBe('JBSWY3DPEHPK3PXP');
    expect(box.open(b)).toBe('JBSWY3DPEHPK3PXP');
  });

  it('does not open with another key', () => {
    const sealed = createSecretBox(key).seal('secret');
    expect(() => createSecretBox(randomBytes(32)).open(sealed)).toThrow(/another key, or altered/);
  });

  it('does not open a tampered text: ciphertext, tag, iv or version', () => {
    const box = createSecretBox(key);
    const [v, iv, tag, body] = box.seal('a longer secret to flip bits in').split(':') as string[];
    const flip = (part: string) => {
      const bytes = Buffer.from(part, 'base64url');
      bytes[0] = (bytes[0] as number) ^ 1;
      return bytes.toString('base64url');
    };
    expect(() => box.open([v, iv, tag, flip(body as string)].join(':'))).toThrow();
    expect(() => box.open([v, iv, flip(tag as string), body].join(':'))).toThrow();
    expect(() => box.open([v, flip(iv as string), tag, body].join(':'))).toThrow();
    expect(() => box.open(['v2', iv, tag, body].join(':'))).toThrow(/version v1/);
    expect(() => box.open('plaintext')).toThrow();
  });

  it('reads a key as raw bytes, 64 hex or 44 base64 characters, with or without a newline', () => {
    expect(parseKey(key)).toEqual(key);
    expect(parseKey(Buffer.from(`${key.toString('hex')}\n`))).toEqual(key);
    expect(parseKey(Buffer.from(`${key.toString('base64')}\n`))).toEqual(key);
  });

  it('refuses a short, long or malformed key, and a missing file', async () => {
    expect(() => parseKey(randomBytes(16))).toThrow(SecretKeyError);
    expect(() => parseKey(Buffer.from('abcd'.repeat(15)))).toThrow(/64 hex or 44 base64/);
    expect(() => createSecretBox(randomBytes(31))).toThrow(/32 bytes/);
    const dir = mkdtempSync(join(tmpdir(), 'elevate-key-'));
    await expect(loadSecretBox(join(dir, 'absent.key'))).rejects.toThrow(/cannot read .*ENOENT/);
    writeFileSync(join(dir, 'short.key'), 'too short\n');
    await expect(loadSecretBox(join(dir, 'short.key'))).rejects.toThrow(SecretKeyError);
    writeFileSync(join(dir, 'good.key'), key.toString('hex'));
    const box = await loadSecretBox(join(dir, 'good.key'));
    expect(createSecretBox(key).open(box.seal('x'))).toBe('x');
  });
});
