import { createHash, randomBytes } from 'node:crypto';
import type { AuditEventInput } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import { Forbidden, Invalid, NotFound } from '../domain/errors.js';
import type { Identity } from '../domain/identity.js';
import type { ApiTokenRecord, AuthOutcome, Store } from './ports.js';

/**
 * API tokens for integrations (ticket systems, CI, chat bots). A token is `elv_` and 43 base64url
 * characters (32 random bytes): the prefix lets the authenticator pass over every other kind of token
 * without a store read, and lets secret scanners find a leaked one. Only its SHA-256 is stored.
 */
export const apiTokenPrefix = 'elv_';
const tokenPattern = /^elv_[A-Za-z0-9_-]{43}$/;

export const looksLikeApiToken = (token: string): boolean => tokenPattern.test(token);

export const newApiToken = (): string => `${apiTokenPrefix}${randomBytes(32).toString('base64url')}`;

export const apiTokenDigest = (token: string): string => createHash('sha256').update(token).digest('hex');

/** The user an API token proves; policies and admins name it so (`token:ci-deployer`). */
export const apiTokenUser = (name: string): string => `token:${name}`;

const day = 24 * 3_600_000;
/** A token nobody set a lifetime for still ends: a forgotten integration's token does not live forever. */
export const defaultTokenLifetime = '90d';
const maxLifetimeMs = 366 * day;
const minLifetimeMs = 3_600_000;
/**
 * `never`, whole days (`90d`, 1..366) or whole hours (`12h`, 1..8784), as the API and the CLI take --expires.
 * The bounds are in the pattern itself so the OpenAPI document states exactly what is accepted.
 */
export const tokenLifetimePattern =
  /^(never|([1-9]|[1-9][0-9]|[12][0-9]{2}|3[0-5][0-9]|36[0-6])d|([1-9][0-9]{0,2}|[1-7][0-9]{3}|8[0-6][0-9]{2}|87[0-7][0-9]|878[0-4])h)$/;

/**
 * The lifetime `text` asks for in milliseconds (null: never expires); Invalid when it is no lifetime or lies
 * outside 1h..366d.
 */
export function parseTokenLifetime(text: string): number | null {
  if (!/^(never|\d+[dh])$/.test(text)) {
    throw new Invalid(`"${text.slice(0, 64)}" is no token lifetime: use e.g. 90d, 12h or never`, 'expires');
  }
  if (text === 'never') return null;
  const ms = Number(text.slice(0, -1)) * (text.endsWith('d') ? day : 3_600_000);
  if (ms < minLifetimeMs || ms > maxLifetimeMs) {
    throw new Invalid(
      `a token lives at least 1h and at most 366d (or never expires), not ${text}`,
      'expires',
    );
  }
  return ms;
}

/** How often a token's lastUsedAt is written at most: a busy integration must not write on every call. */
export const lastUsedResolutionMs = 60_000;

export interface NewApiTokenInput {
  name: string;
  groups: string[];
  /** `90d`, `12h` or `never`; absent: defaultTokenLifetime. */
  expires?: string | undefined;
}

/** A token as the API shows it: never its digest. */
export type ApiTokenView = Omit<ApiTokenRecord, 'digest'>;
export type CreatedApiToken = ApiTokenView & { token: string };

export interface ApiTokenServiceDeps {
  store: Pick<Store, 'createApiToken' | 'listApiTokens' | 'revokeApiToken'>;
  isAdmin: (who: Identity) => boolean;
  clock: Clock;
}

export type ApiTokenService = ReturnType<typeof createApiTokenService>;

const view = ({ digest: _digest, ...rest }: ApiTokenRecord): ApiTokenView => rest;

const event = (time: Date, actor: string, action: string, details: Record<string, unknown>) =>
  ({ time, actor, action, requestId: null, cluster: null, details }) satisfies AuditEventInput;

export function createApiTokenService({ store, isAdmin, clock }: ApiTokenServiceDeps) {
  function assertAdmin(who: Identity, what: string): void {
    if (!isAdmin(who)) throw new Forbidden(`${who.user} may not ${what} API tokens (auth.admins only)`);
  }

  return {
    async create(who: Identity, input: NewApiTokenInput): Promise<CreatedApiToken> {
      assertAdmin(who, 'create');
      const lifetime = parseTokenLifetime(input.expires ?? defaultTokenLifetime);
      const now = clock.now();
      const token = newApiToken();
      const record: ApiTokenRecord = {
        name: input.name,
        digest: apiTokenDigest(token),
        groups: [...new Set(input.groups)],
        createdAt: now,
        createdBy: who.user,
        expiresAt: lifetime === null ? null : new Date(now.getTime() + lifetime),
        lastUsedAt: null,
        revokedAt: null,
        revokedBy: null,
      };
      // The event says what the token may do and until when; never the token or its digest.
      await store.createApiToken(record, [
        event(now, who.user, 'ApiTokenCreated', {
          name: record.name,
          groups: record.groups,
          expiresAt: record.expiresAt?.toISOString() ?? null,
        }),
      ]);
      return { ...view(record), token };
    },

    async list(who: Identity): Promise<ApiTokenView[]> {
      assertAdmin(who, 'list');
      return (await store.listApiTokens()).map(view);
    },

    /** Revoking a revoked token changes nothing and answers it as it is. */
    async revoke(who: Identity, name: string): Promise<ApiTokenView> {
      assertAdmin(who, 'revoke');
      const now = clock.now();
      const revoked = await store.revokeApiToken(name, who.user, now, [
        event(now, who.user, 'ApiTokenRevoked', { name }),
      ]);
      if (!revoked) throw new NotFound(`no API token named ${name}`);
      return view(revoked);
    },
  };
}

export type ApiTokenIdentifier = ReturnType<typeof createApiTokenIdentifier>;

/** Who an API token proves, for the authenticator; it needs no admin check, so it is apart from the service. */
export function createApiTokenIdentifier({
  store,
  clock,
}: {
  store: Pick<Store, 'findApiTokenByDigest' | 'recordApiTokenUse'>;
  clock: Clock;
}) {
  // One server audits a token's first use once even when its first calls come at the same moment.
  const firstUseInFlight = new Map<string, Promise<void>>();

  async function recordUse(token: ApiTokenRecord, now: Date): Promise<void> {
    if (token.lastUsedAt === null) {
      const pending = firstUseInFlight.get(token.name);
      if (pending) return pending;
      const write = store
        .recordApiTokenUse(token.name, now, [
          event(now, apiTokenUser(token.name), 'ApiTokenFirstUsed', { name: token.name }),
        ])
        .finally(() => firstUseInFlight.delete(token.name));
      firstUseInFlight.set(token.name, write);
      return write;
    }
    if (now.getTime() - token.lastUsedAt.getTime() >= lastUsedResolutionMs) {
      await store.recordApiTokenUse(token.name, now, []);
    }
  }

  return {
    /**
     * Who `token` proves. Every call reads the store, so a revocation made on any server refuses the token
     * everywhere at once. Null when no token has this digest.
     */
    async identify(token: string): Promise<AuthOutcome> {
      const found = await store.findApiTokenByDigest(apiTokenDigest(token));
      if (!found) return null;
      const now = clock.now();
      if (found.revokedAt) return { refused: `the API token ${found.name} was revoked` };
      if (found.expiresAt && found.expiresAt <= now) {
        return { refused: `the API token ${found.name} expired at ${found.expiresAt.toISOString()}` };
      }
      await recordUse(found, now);
      return {
        identity: {
          user: apiTokenUser(found.name),
          groups: found.groups,
          source: { kind: 'api-token', name: found.name },
        },
      };
    },
  };
}
