import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Authenticator } from '../../services/ports.js';
import { parseTokenFile, sha256, type TokenEntry, TokenFileError } from './token-file.js';

/**
 * Bearer tokens from a file in kube-apiserver's --token-auth-file format (see token-file.ts). Only
 * SHA-256 digests of the tokens are kept in memory.
 *
 * The file is re-read when its content changes, so tokens can be rotated without a restart. Changes are
 * found by a digest of the file's bytes, not its mtime: a rewrite within one mtime tick (or one that
 * sets the mtime back) changes the content all the same. A new version replaces the tokens only when it
 * is complete; otherwise the last good set stays and the problem is reported once per version:
 * - it must parse, every line (a bad line never drops just that line's token);
 * - it must be non-empty and end with a newline. A writer that truncates and rewrites in place is seen
 *   half-way as an empty file or one cut inside a line, and either would parse into fewer tokens.
 *   (A cut exactly at a line end cannot be told from a shorter file: writers should replace the file
 *   atomically — write a new one and rename it over the old.)
 */
export function createTokenFileAuthenticator(
  path: string,
  onReloadError?: (e: Error) => void,
): Authenticator {
  const first = readTokenFile(path);
  // At start there is no earlier set to keep, so a file without a final newline is taken as it is.
  let byDigest = parseTokenFile(first.toString('utf8'), path);
  let seenDigest = sha256(first).toString('hex');

  function refresh(): void {
    let bytes: Buffer;
    let digest: string;
    try {
      bytes = readTokenFile(path);
      digest = sha256(bytes).toString('hex');
    } catch (e) {
      // Report an unreadable file once, not on every request, until it is readable again.
      if (seenDigest === 'unreadable') return;
      seenDigest = 'unreadable';
      onReloadError?.(e as Error);
      return;
    }
    if (digest === seenDigest) return;
    seenDigest = digest;
    try {
      byDigest = parseCompleteTokenFile(bytes, path);
    } catch (e) {
      onReloadError?.(e as Error);
    }
  }

  return {
    async authenticate(token) {
      refresh();
      const digest = sha256(token);
      const entry = byDigest.get(digest.toString('hex'));
      // The map lookup already matched; the constant-time compare documents that digests, not tokens, are compared.
      if (!entry || !timingSafeEqual(digest, Buffer.from(entry.digest, 'hex'))) return null;
      return { identity: entry.identity };
    },
  };
}

function parseCompleteTokenFile(bytes: Buffer, path: string): Map<string, TokenEntry> {
  if (bytes.length === 0) throw new TokenFileError(`${path}: empty, taken as still being written`);
  if (bytes[bytes.length - 1] !== 0x0a)
    throw new TokenFileError(`${path}: the last line has no newline, taken as still being written`);
  return parseTokenFile(bytes.toString('utf8'), path);
}

function readTokenFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TokenFileError(
      `cannot read token file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}
