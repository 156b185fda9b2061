import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Identity } from '../../domain/identity.js';
import type { Authenticator } from '../../services/ports.js';

export class TokenFileError extends Error {}

/**
 * Bearer tokens from a file in kube-apiserver's --token-auth-file format:
 * `token,user,uid,"group1,group2"`. The token may also be written as
 * `sha256:<hex digest>` (see `elevate token hash`) so the file holds no usable
 * secret at rest. Only SHA-256 digests of the tokens are kept in memory. The file is re-read when it changes, so tokens can be rotated
 * without a restart; a broken edit keeps the last good set.
 */
export function createTokenFileAuthenticator(
  path: string,
  onReloadError?: (e: Error) => void,
): Authenticator {
  let byDigest = parseTokenFile(readTokenFile(path), path);
  let loadedMtime = statSync(path).mtimeMs;

  function refresh(): void {
    try {
      const mtime = statSync(path).mtimeMs;
      if (mtime === loadedMtime) return;
      byDigest = parseTokenFile(readTokenFile(path), path);
      loadedMtime = mtime;
    } catch (e) {
      onReloadError?.(e as Error);
    }
  }

  return {
    authenticate(token) {
      refresh();
      const digest = sha256(token);
      const entry = byDigest.get(digest.toString('hex'));
      // The map lookup already matched; the constant-time compare documents that digests, not tokens, are compared.
      if (!entry || !timingSafeEqual(digest, Buffer.from(entry.digest, 'hex'))) return null;
      return entry.identity;
    },
  };
}

const digestPrefix = 'sha256:';

/** How a token is written into a token file without storing the token itself. */
export function hashedTokenField(token: string): string {
  return `${digestPrefix}${sha256(token).toString('hex')}`;
}

function tokenDigest(field: string, where: string): string {
  if (!field.startsWith(digestPrefix)) return sha256(field).toString('hex');
  const hex = field.slice(digestPrefix.length).toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new TokenFileError(`${where}: sha256: must be followed by 64 hex digits`);
  return hex;
}

function readTokenFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new TokenFileError(
      `cannot read token file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export function parseTokenFile(
  text: string,
  path: string,
): Map<string, { digest: string; identity: Identity }> {
  const out = new Map<string, { digest: string; identity: Identity }>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const fields = splitCsvLine(line);
    const [token, user, uid, groups] = fields;
    if (fields.length < 2 || !token || !user) {
      throw new TokenFileError(`${path}:${i + 1}: expected token,user[,uid[,"group1,group2"]]`);
    }
    const digest = tokenDigest(token, `${path}:${i + 1}`);
    if (out.has(digest)) throw new TokenFileError(`${path}:${i + 1}: duplicate token`);
    out.set(digest, {
      digest,
      identity: {
        user,
        ...(uid ? { uid } : {}),
        groups: (groups ?? '')
          .split(',')
          .map((g) => g.trim())
          .filter(Boolean),
      },
    });
  });
  return out;
}

/** RFC 4180 fields: quotes allow commas inside a field, "" is a literal quote. */
function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      fields.push(field.trim());
      field = '';
    } else field += ch;
  }
  fields.push(field.trim());
  return fields;
}
