import { describe, expect, it } from 'vitest';
import { parseHead } from '../../src/cli/commands/audit.js';

const hash = 'ab'.repeat(32);

describe('elevate audit verify --expect-head', () => {
  it('takes SEQ:HASH as audit verify prints it, lower-casing the hash', () => {
    expect(parseHead(`42:${hash}`)).toBe(`42:${hash}`);
    expect(parseHead(`7:${hash.toUpperCase()}`)).toBe(`7:${hash}`);
  });

  it.each([
    ['no colon', hash, /is not SEQ:HASH/],
    ['a zero seq', `0:${hash}`, /SEQ must be a positive integer, got "0"/],
    ['a negative seq', `-3:${hash}`, /is not SEQ:HASH/],
    ['a short hash', '5:abc', /HASH must be 64 hex digits \(SHA-256\), got 3/],
    ['a long hash', `5:${hash}0`, /HASH must be 64 hex digits \(SHA-256\), got 65/],
    ['a non-hex hash', `5:${'g'.repeat(64)}`, /is not SEQ:HASH/],
  ])('refuses %s with a message that says what is wrong', (_what, value, message) => {
    expect(() => parseHead(value)).toThrow(message);
  });
});
