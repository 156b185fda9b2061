import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** Encrypts small secrets (TOTP seeds) for storage, and opens them again. */
export interface SecretBox {
  seal(plain: string): string;
  /** Throws when the sealed text was made with another key, was altered, or is not a sealed text at all. */
  open(sealed: string): string;
}

/** Why a key file cannot be used; the composition root names the config field (secrets.keyFile). */
export class SecretKeyError extends Error {}

const version = 'v1';
const ivBytes = 12; // GCM's native nonce size: random per seal, so one key may seal many secrets
const tagBytes = 16;

const b64 = (b: Buffer) => b.toString('base64url');

/**
 * AES-256-GCM. The sealed form is `v1:<iv>:<tag>:<ciphertext>` in base64url, versioned so a later
 * algorithm or key rotation can read what was stored before it. The version is bound in as associated
 * data, so a sealed text relabelled with another version fails to open.
 */
export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new SecretKeyError(`the key must be 32 bytes, not ${key.length}`);
  const aad = Buffer.from(version);
  return {
    seal(plain) {
      const iv = randomBytes(ivBytes);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: tagBytes });
      cipher.setAAD(aad);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return [version, b64(iv), b64(cipher.getAuthTag()), b64(body)].join(':');
    },
    open(sealed) {
      const parts = sealed.split(':');
      if (parts.length !== 4 || parts[0] !== version) throw new Error('not a sealed secret of version v1');
      const [iv, tag, body] = parts.slice(1).map((p) => Buffer.from(p, 'base64url')) as [
        Buffer,
        Buffer,
        Buffer,
      ];
      if (iv.length !== ivBytes || tag.length !== tagBytes) throw new Error('sealed secret is malformed');
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: tagBytes });
      decipher.setAAD(aad);
      decipher.setAuthTag(tag);
      try {
        return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
      } catch {
        // GCM says only "unable to authenticate": the key differs or the text was altered.
        throw new Error('sealed secret does not open with this key (another key, or altered)');
      }
    },
  };
}

/**
 * The 32-byte key a key file holds: the raw bytes, or 64 hex characters, or 44 base64 characters (what
 * `openssl rand -hex 32` / `openssl rand -base64 32` print; a trailing newline is fine).
 */
export function parseKey(content: Buffer): Buffer {
  if (content.length === 32) return content;
  const text = content.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) return Buffer.from(text, 'base64');
  throw new SecretKeyError(
    `expected 32 random bytes, as raw bytes, 64 hex or 44 base64 characters (e.g. openssl rand -hex 32 > FILE); found ${content.length} bytes of something else`,
  );
}

/** Reads the key file and builds the box; a missing, short or malformed key throws SecretKeyError. */
export async function loadSecretBox(keyFile: string): Promise<SecretBox> {
  let content: Buffer;
  try {
    content = await readFile(keyFile);
  } catch (e) {
    throw new SecretKeyError(`cannot read ${keyFile}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  return createSecretBox(parseKey(content));
}
