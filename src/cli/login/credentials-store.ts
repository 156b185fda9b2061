import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';

const storedCredentialSchema = z.object({
  /** The bearer sent to Elevate: the provider's ID token. */
  idToken: z.string().min(1),
  refreshToken: z.string().min(1).optional(),
  /** When the ID token stops being accepted (its exp), RFC 3339. */
  expiresAt: z.iso.datetime({ offset: true }),
  issuer: z.string().min(1),
  clientId: z.string().min(1),
  /** The CA bundle trusted for the issuer at sign-in, needed again to refresh. */
  caFile: z.string().min(1).optional(),
});
export type StoredCredential = z.infer<typeof storedCredentialSchema>;

const fileSchema = z.object({ servers: z.record(z.string(), storedCredentialSchema) });

/** ~/.config/elevate/credentials.json, or under $XDG_CONFIG_HOME when it is set (and absolute). */
export function defaultCredentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg?.startsWith('/') ? xdg : join(env.HOME || homedir(), '.config');
  return join(base, 'elevate', 'credentials.json');
}

/** One credential per server, whatever way its URL was typed (a trailing slash, the host's case). */
export function serverKey(server: string): string {
  try {
    return new URL(server).href.replace(/\/+$/, '');
  } catch {
    return server.replace(/\/+$/, '');
  }
}

/**
 * The signed-in credentials, one per Elevate server. The file holds live bearer tokens, so it is the
 * user's alone (0600 in a 0700 directory) and is replaced atomically: a crash mid-write never leaves half a
 * file, and a concurrent reader sees the old or the new content.
 */
export function createCredentialsStore(file: string = defaultCredentialsFile()) {
  function readAll(): Record<string, StoredCredential> {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw e;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`${file} is not JSON: delete it and run elevate login`);
    }
    const result = fileSchema.safeParse(parsed);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new Error(
        `${file}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}; delete it and run elevate login`,
      );
    }
    return result.data.servers;
  }

  function writeAll(servers: Record<string, StoredCredential>): void {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // mkdir's mode only applies to directories it creates; elevate's own directory is narrowed either way.
    chmodSync(dirname(file), 0o700);
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify({ servers }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      renameSync(tmp, file);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  return {
    file,
    get(server: string): StoredCredential | undefined {
      return readAll()[serverKey(server)];
    },
    save(server: string, credential: StoredCredential): void {
      writeAll({ ...readAll(), [serverKey(server)]: storedCredentialSchema.parse(credential) });
    },
    /** Whether there was a credential to forget. */
    forget(server: string): boolean {
      const servers = readAll();
      const key = serverKey(server);
      if (!(key in servers)) return false;
      delete servers[key];
      writeAll(servers);
      return true;
    },
  };
}
export type CredentialsStore = ReturnType<typeof createCredentialsStore>;
