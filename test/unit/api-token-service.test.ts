import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiTokenAuthenticator } from '../../src/adapters/auth/api-token-authenticator.js';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store.js';
import { Conflict, Forbidden, Invalid, NotFound } from '../../src/domain/errors.js';
import { type Identity, isAmong } from '../../src/domain/identity.js';
import {
  apiTokenDigest,
  createApiTokenIdentifier,
  createApiTokenService,
  looksLikeApiToken,
  newApiToken,
  parseTokenLifetime,
} from '../../src/services/api-token-service.js';
import type { Store } from '../../src/services/ports.js';

const day = 24 * 3_600_000;
const root: Identity = { user: 'root', groups: ['platform-admins'] };
const alice: Identity = { user: 'alice', groups: ['devs'] };

describe('API token format', () => {
  it('is elv_ and 43 base64url characters of 32 random bytes, each one new', () => {
    const tokens = Array.from({ length: 50 }, newApiToken);
    for (const t of tokens) {
      expect(t).toMatch(/^elv_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(t.slice(4), 'base64url')).toHaveLength(32);
      expect(looksLikeApiToken(t)).toBe(true);
    }
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('tells other tokens apart by their shape alone', () => {
    for (const other of [
      'token-alice',
      'eyJhbGciOi.eyJzdWIiOi.c2ln',
      'elv_short',
      `elv_${'a'.repeat(44)}`,
      '',
    ]) {
      expect(looksLikeApiToken(other)).toBe(false);
    }
  });

  it('is stored as the hex SHA-256 of the whole token', () => {
    expect(apiTokenDigest('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('API token lifetime', () => {
  it('takes whole days, whole hours or never, from 1h to 366d', () => {
    expect(parseTokenLifetime('90d')).toBe(90 * day);
    expect(parseTokenLifetime('366d')).toBe(366 * day);
    expect(parseTokenLifetime('1h')).toBe(3_600_000);
    expect(parseTokenLifetime('never')).toBeNull();
  });

  it('refuses anything else, naming the field', () => {
    for (const bad of ['0d', '367d', '9000h', '30m', '1.5d', 'forever', '', '-1d', '90']) {
      expect(() => parseTokenLifetime(bad), bad).toThrow(Invalid);
    }
    try {
      parseTokenLifetime('367d');
    } catch (e) {
      expect((e as Invalid).field).toBe('expires');
      expect((e as Error).message).toMatch(/at most 366d/);
    }
  });
});

describe('API token service over a real SQLite store', () => {
  let store: Store;
  let now: Date;
  const clock = { now: () => now };
  const admins = { users: [], groups: ['platform-admins'] };
  let tokens: ReturnType<typeof createApiTokenService>;
  let auth: ReturnType<typeof createApiTokenAuthenticator>;

  beforeEach(async () => {
    store = await openSqliteStore(':memory:');
    now = new Date('2026-03-01T12:00:00Z');
    tokens = createApiTokenService({ store, clock, isAdmin: (who) => isAmong(who, admins) });
    auth = createApiTokenAuthenticator(createApiTokenIdentifier({ store, clock }));
  });
  afterEach(() => store.close());

  const later = (ms: number) => {
    now = new Date(now.getTime() + ms);
  };

  it('creates a token for admins only, shown once and stored as its digest', async () => {
    await expect(tokens.create(alice, { name: 'ci', groups: [] })).rejects.toThrow(Forbidden);
    await expect(tokens.list(alice)).rejects.toThrow(Forbidden);
    await expect(tokens.revoke(alice, 'ci')).rejects.toThrow(Forbidden);

    const created = await tokens.create(root, { name: 'ci', groups: ['deployers', 'deployers', 'ci'] });
    expect(created).toMatchObject({
      name: 'ci',
      groups: ['deployers', 'ci'],
      createdBy: 'root',
      expiresAt: new Date(now.getTime() + 90 * day),
      lastUsedAt: null,
    });
    const [stored] = await store.listApiTokens();
    expect(stored?.digest).toBe(apiTokenDigest(created.token));
    expect(JSON.stringify(await store.listApiTokens())).not.toContain(created.token);
    expect(JSON.stringify(await tokens.list(root))).not.toContain(stored?.digest);
    expect(await tokens.list(root)).toEqual([expect.not.objectContaining({ token: expect.anything() })]);
  });

  it('proves token:NAME with its groups, from the api-token source', async () => {
    const { token } = await tokens.create(root, { name: 'jira', groups: ['ticketing'], expires: 'never' });
    expect(await auth.authenticate(token)).toEqual({
      identity: { user: 'token:jira', groups: ['ticketing'], source: { kind: 'api-token', name: 'jira' } },
    });
  });

  it('passes other tokens on and refuses an unknown elv_ token', async () => {
    expect(await auth.authenticate('token-alice')).toBeNull();
    expect(await auth.authenticate(newApiToken())).toEqual({ refused: 'no such API token' });
  });

  it('audits the first use once, then writes lastUsedAt at most once a minute', async () => {
    const { token } = await tokens.create(root, { name: 'bot', groups: [] });
    // Calls arriving together still make one first use.
    await Promise.all([auth.authenticate(token), auth.authenticate(token), auth.authenticate(token)]);
    const firstUse = now;
    later(30_000);
    await auth.authenticate(token);
    expect((await tokens.list(root))[0]?.lastUsedAt).toEqual(firstUse);
    later(30_000);
    await auth.authenticate(token);
    expect((await tokens.list(root))[0]?.lastUsedAt).toEqual(now);
    const actions = (await store.listAudit()).map((e) => [e.action, e.actor]);
    expect(actions).toEqual([
      ['ApiTokenCreated', 'root'],
      ['ApiTokenFirstUsed', 'token:bot'],
    ]);
  });

  it('refuses a revoked token at its next use, saying so', async () => {
    const { token } = await tokens.create(root, { name: 'chat', groups: [] });
    expect(await auth.authenticate(token)).toHaveProperty('identity');
    const revoked = await tokens.revoke(root, 'chat');
    expect(revoked).toMatchObject({ revokedAt: now, revokedBy: 'root' });
    expect(await auth.authenticate(token)).toEqual({ refused: 'the API token chat was revoked' });
    // Again: nothing changes, nothing more is audited.
    later(1000);
    expect(await tokens.revoke(root, 'chat')).toEqual(revoked);
    expect((await store.listAudit()).filter((e) => e.action === 'ApiTokenRevoked')).toHaveLength(1);
    await expect(tokens.revoke(root, 'nope')).rejects.toThrow(NotFound);
  });

  it('refuses a token from the moment it expires', async () => {
    const { token } = await tokens.create(root, { name: 'short', groups: [], expires: '1h' });
    later(3_600_000 - 1);
    expect(await auth.authenticate(token)).toHaveProperty('identity');
    later(1);
    expect(await auth.authenticate(token)).toEqual({
      refused: 'the API token short expired at 2026-03-01T13:00:00.000Z',
    });
  });

  it('never reuses a name, revoked or not', async () => {
    await tokens.create(root, { name: 'once', groups: [] });
    await tokens.revoke(root, 'once');
    await expect(tokens.create(root, { name: 'once', groups: [] })).rejects.toThrow(Conflict);
    expect(await tokens.list(root)).toHaveLength(1);
  });

  it('keeps the token and its digest out of the audit trail', async () => {
    const { token } = await tokens.create(root, { name: 'audited', groups: ['g'], expires: '7d' });
    await auth.authenticate(token);
    await tokens.revoke(root, 'audited');
    const trail = JSON.stringify(await store.listAudit());
    expect(trail).not.toContain(token);
    expect(trail).not.toContain(apiTokenDigest(token));
    expect((await store.listAudit()).map((e) => [e.action, e.details])).toEqual([
      ['ApiTokenCreated', { name: 'audited', groups: ['g'], expiresAt: '2026-03-08T12:00:00.000Z' }],
      ['ApiTokenFirstUsed', { name: 'audited' }],
      ['ApiTokenRevoked', { name: 'audited' }],
    ]);
  });
});
