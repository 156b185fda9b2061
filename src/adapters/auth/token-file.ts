import { createHash } from 'node:crypto';
import type { Identity } from '../../domain/identity.js';

export class TokenFileError extends Error {}

export interface TokenEntry {
  /** Hex SHA-256 of the token; the token itself is never kept. */
  digest: string;
  identity: Identity;
}

const digestPrefix = 'sha256:';

export function sha256(data: string | Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

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

/**
 * Parses kube-apiserver's --token-auth-file format, `token,user,uid,"group1,group2"`, into entries keyed
 * by token digest. Any bad line fails the whole file, naming the line: a partial set is never returned.
 */
export function parseTokenFile(text: string, path: string): Map<string, TokenEntry> {
  const out = new Map<string, TokenEntry>();
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
