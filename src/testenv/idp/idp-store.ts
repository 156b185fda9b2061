import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  /** Epoch ms; absent: lives as long as the store. */
  expiresAt?: number;
}

/**
 * The provider's state (sessions, grants, codes, refresh tokens) in memory, saved to a file when the
 * provider stops and read when it starts: a test that stops and restarts the IdP keeps its refresh tokens,
 * like a real IdP with a database. Unbounded, unlike oidc-provider's own LRU adapter, so a long test run
 * never loses a token to eviction; expired entries are dropped as they are met and when saving.
 */
export class IdpStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly file: string) {
    if (!existsSync(file)) return;
    const saved = JSON.parse(readFileSync(file, 'utf8')) as [string, Entry][];
    for (const [key, entry] of saved) this.entries.set(key, entry);
  }

  save(): void {
    const now = Date.now();
    const live = [...this.entries].filter(([, e]) => (e.expiresAt ?? Number.POSITIVE_INFINITY) > now);
    writeFileSync(`${this.file}.tmp`, JSON.stringify(live), { mode: 0o600 });
    renameSync(`${this.file}.tmp`, this.file);
  }

  adapter(): AdapterFactory {
    return (model) => this.forModel(model);
  }

  private get(key: string): AdapterPayload | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  private findWhere(model: string, match: (p: AdapterPayload) => boolean): AdapterPayload | undefined {
    for (const key of this.entries.keys()) {
      if (!key.startsWith(`${model}:`)) continue;
      const payload = this.get(key);
      if (payload && match(payload)) return payload;
    }
    return undefined;
  }

  private forModel(model: string): Adapter {
    const key = (id: string) => `${model}:${id}`;
    return {
      upsert: async (id, payload, expiresIn) => {
        this.entries.set(key(id), {
          payload,
          ...(typeof expiresIn === 'number' ? { expiresAt: Date.now() + expiresIn * 1000 } : {}),
        });
      },
      find: async (id) => this.get(key(id)),
      findByUid: async (uid) => this.findWhere(model, (p) => p.uid === uid),
      findByUserCode: async (userCode) => this.findWhere(model, (p) => p.userCode === userCode),
      consume: async (id) => {
        const payload = this.get(key(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      destroy: async (id) => {
        this.entries.delete(key(id));
      },
      revokeByGrantId: async (grantId) => {
        for (const [k, entry] of this.entries) if (entry.payload.grantId === grantId) this.entries.delete(k);
      },
    };
  }
}
