import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createCredentialsStore,
  defaultCredentialsFile,
  type StoredCredential,
  serverKey,
} from '../../src/cli/login/credentials-store.js';
import { refreshMargin, storedToken } from '../../src/cli/login/stored-token.js';

const now = Date.parse('2026-05-01T12:00:00Z');
const credential = (over: Partial<StoredCredential> = {}): StoredCredential => ({
  idToken: 'id-token-1',
  refreshToken: 'refresh-1',
  expiresAt: new Date(now + 10 * 60_000).toISOString(),
  issuer: 'https://idp.example',
  clientId: 'elevate',
  ...over,
});

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'elevate-cred-'));
  file = join(dir, 'config', 'elevate', 'credentials.json');
});

describe('where the credentials live', () => {
  it('is under $XDG_CONFIG_HOME when set, else ~/.config', () => {
    expect(defaultCredentialsFile({ HOME: '/home/a', XDG_CONFIG_HOME: '/x/cfg' })).toBe(
      '/x/cfg/elevate/credentials.json',
    );
    expect(defaultCredentialsFile({ HOME: '/home/a' })).toBe('/home/a/.config/elevate/credentials.json');
    // The XDG spec says a relative value is to be ignored.
    expect(defaultCredentialsFile({ HOME: '/home/a', XDG_CONFIG_HOME: 'rel' })).toBe(
      '/home/a/.config/elevate/credentials.json',
    );
  });

  it('keys one server however its URL is written', () => {
    expect(serverKey('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080');
    expect(serverKey('HTTPS://Elevate.Example.com')).toBe('https://elevate.example.com');
  });
});

describe('the credentials store', () => {
  it('keeps one credential per server, in a file and directory only the user can read', () => {
    const store = createCredentialsStore(file);
    expect(store.get('http://a:1')).toBeUndefined();
    store.save('http://a:1/', credential());
    store.save('http://b:2', credential({ idToken: 'id-token-b' }));
    expect(store.get('http://a:1')).toEqual(credential());
    expect(store.get('http://b:2')?.idToken).toBe('id-token-b');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'config', 'elevate')).mode & 0o777).toBe(0o700);
    // Written by rename: no temporary file is left beside it.
    expect(readdirSync(join(dir, 'config', 'elevate'))).toEqual(['credentials.json']);
    expect(JSON.parse(readFileSync(file, 'utf8')).servers['http://a:1'].refreshToken).toBe('refresh-1');
  });

  it('narrows a directory that already existed, and replaces a file of looser mode', () => {
    mkdirSync(join(dir, 'config', 'elevate'), { recursive: true, mode: 0o755 });
    writeFileSync(file, JSON.stringify({ servers: {} }), { mode: 0o644 });
    createCredentialsStore(file).save('http://a:1', credential());
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'config', 'elevate')).mode & 0o777).toBe(0o700);
  });

  it('forgets one server and says whether there was anything to forget', () => {
    const store = createCredentialsStore(file);
    store.save('http://a:1', credential());
    store.save('http://b:2', credential());
    expect(store.forget('http://a:1/')).toBe(true);
    expect(store.forget('http://a:1')).toBe(false);
    expect(store.get('http://a:1')).toBeUndefined();
    expect(store.get('http://b:2')).toBeDefined();
    expect(createCredentialsStore(join(dir, 'none.json')).forget('http://a:1')).toBe(false);
  });

  it('refuses a damaged file with its name and what to do, changing nothing', () => {
    mkdirSync(join(dir, 'config', 'elevate'), { recursive: true });
    writeFileSync(file, '{"servers": {"http://a:1": {"idToken": ""}}}');
    const store = createCredentialsStore(file);
    expect(() => store.get('http://a:1')).toThrow(
      /credentials\.json: servers\.http:\/\/a:1\.idToken: .*run elevate login/,
    );
    expect(() => store.save('http://a:1', credential())).toThrow(/run elevate login/);
    writeFileSync(file, 'not json');
    expect(() => store.get('http://a:1')).toThrow(/is not JSON: delete it and run elevate login/);
    expect(readFileSync(file, 'utf8')).toBe('not json');
  });
});

describe('the stored token a command sends', () => {
  it('is none when nobody signed in to that server', async () => {
    const store = createCredentialsStore(file);
    expect(await storedToken('http://a:1', store, { now: () => now })).toBeUndefined();
  });

  it('is the stored ID token while it has more than the margin left, with no refresh', async () => {
    const store = createCredentialsStore(file);
    store.save('http://a:1', credential({ expiresAt: new Date(now + refreshMargin + 1000).toISOString() }));
    const refresh = async () => {
      throw new Error('must not refresh');
    };
    expect(await storedToken('http://a:1', store, { now: () => now, refresh })).toBe('id-token-1');
  });

  it('is renewed, and the renewal kept, when it expires within the margin (or has expired)', async () => {
    const store = createCredentialsStore(file);
    for (const left of [refreshMargin - 1000, -3_600_000]) {
      store.save('http://a:1', credential({ expiresAt: new Date(now + left).toISOString() }));
      const seen: StoredCredential[] = [];
      const refresh = async (c: StoredCredential) => {
        seen.push(c);
        return credential({ idToken: 'id-token-2', expiresAt: new Date(now + 3_600_000).toISOString() });
      };
      expect(await storedToken('http://a:1', store, { now: () => now, refresh })).toBe('id-token-2');
      expect(seen.map((c) => c.refreshToken)).toEqual(['refresh-1']);
      expect(store.get('http://a:1')?.idToken).toBe('id-token-2');
    }
  });

  it('says to run elevate login when the renewal fails, keeping the old credential', async () => {
    const store = createCredentialsStore(file);
    store.save('http://a:1', credential({ expiresAt: new Date(now - 1000).toISOString() }));
    const refresh = async (): Promise<StoredCredential> => {
      throw new Error('invalid_grant: grant request is invalid');
    };
    await expect(storedToken('http://a:1', store, { now: () => now, refresh })).rejects.toThrow(
      'your sign-in to http://a:1 has expired and could not be renewed (invalid_grant: grant request is invalid): run elevate login',
    );
    expect(store.get('http://a:1')?.idToken).toBe('id-token-1');
  });

  it('without a refresh token, says to sign in again', async () => {
    const store = createCredentialsStore(file);
    const { refreshToken: _, ...noRefresh } = credential({ expiresAt: new Date(now - 1000).toISOString() });
    store.save('http://a:1', noRefresh);
    await expect(storedToken('http://a:1', store, { now: () => now })).rejects.toThrow(
      /\(the sign-in has no refresh token\): run elevate login/,
    );
  });

  it("two commands renewing at once spend the refresh token once: the second takes the first one's renewal", async () => {
    // Two stores over one file, as two elevate processes would have.
    const first = createCredentialsStore(file);
    const second = createCredentialsStore(file);
    first.save('http://a:1', credential({ expiresAt: new Date(now - 1000).toISOString() }));
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const spent: string[] = [];
    const refresh = async (c: StoredCredential) => {
      spent.push(c.refreshToken ?? '');
      await held;
      return credential({
        idToken: 'id-token-2',
        refreshToken: 'refresh-2',
        expiresAt: new Date(now + 3_600_000).toISOString(),
      });
    };
    const one = storedToken('http://a:1', first, { now: () => now, refresh });
    const two = storedToken('http://a:1', second, { now: () => now, refresh });
    await vi.waitUntil(() => spent.length === 1);
    release();
    expect(await Promise.all([one, two])).toEqual(['id-token-2', 'id-token-2']);
    expect(spent).toEqual(['refresh-1']);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('a lock left by a process that died is taken over; a failed renewal releases the lock', async () => {
    const store = createCredentialsStore(file);
    store.save('http://a:1', credential({ expiresAt: new Date(now - 1000).toISOString() }));
    writeFileSync(`${file}.lock`, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${file}.lock`, old, old);
    const refresh = async (): Promise<StoredCredential> => {
      throw new Error('invalid_grant');
    };
    await expect(storedToken('http://a:1', store, { now: () => now, refresh })).rejects.toThrow(
      /run elevate login/,
    );
    expect(existsSync(`${file}.lock`)).toBe(false);
  });
});
