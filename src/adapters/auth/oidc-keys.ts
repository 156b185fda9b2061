import { type CryptoKey, createLocalJWKSet, type JWSHeaderParameters } from 'jose';
import type { Logger } from 'pino';
import { z } from 'zod';
import { fetchJson } from './oidc-fetch.js';

/** No keys have been fetched yet (the issuer has been unreachable since start). */
export class OidcKeysUnavailable extends Error {}

export interface OidcKeysOptions {
  issuer: string;
  /** PEM to trust for the issuer's TLS; null for the system's CAs. */
  ca: Buffer | null;
  log: Pick<Logger, 'info' | 'warn'>;
  now?: () => number;
  /** How often the keys are fetched again while all is well, so a removed key stops working. */
  refreshEveryMs?: number;
  /** How often a fetch is retried while the issuer is unreachable (or before the first keys). */
  retryEveryMs?: number;
  /**
   * A token naming a key Elevate has not seen makes it fetch the keys at once (a rotation), but at most
   * once per this period: otherwise anyone could make Elevate hammer the issuer with made-up key ids.
   */
  unknownKeyCooldownMs?: number;
}

export interface OidcKeys {
  /** jose's key resolver: the issuer's published key the token header names. */
  keyFor(header: JWSHeaderParameters): Promise<CryptoKey>;
  /** Why validation runs on old keys (or none), for /readyz; null while the issuer answers. */
  degraded(): string | null;
  /** Fetches discovery and the JWKS now; false when that failed (the last keys stay). */
  refresh(): Promise<boolean>;
  /** Fetches at once (the promise settles with that first fetch), then keeps refreshing in the background. */
  start(): Promise<boolean>;
  stop(): void;
}

const discovery = z.looseObject({ issuer: z.string(), jwks_uri: z.string() });
const jwksShape = z.looseObject({ keys: z.array(z.looseObject({ kty: z.string() })) });

type KeySet = ReturnType<typeof createLocalJWKSet>;

/**
 * The issuer's signing keys, from its discovery document and JWKS. The last keys fetched stay in use when
 * the issuer cannot be reached, so people already signed in keep working through an IdP outage; the
 * outage is logged once when it starts and once when it ends, and degraded() says so meanwhile.
 */
export function createOidcKeys(opts: OidcKeysOptions): OidcKeys {
  const now = opts.now ?? Date.now;
  const refreshEveryMs = opts.refreshEveryMs ?? 5 * 60_000;
  const retryEveryMs = opts.retryEveryMs ?? 10_000;
  const cooldownMs = opts.unknownKeyCooldownMs ?? 10_000;
  // Per the OpenID Connect Discovery spec: a trailing slash of the issuer is not doubled.
  const discoveryUrl = `${opts.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;

  let keys: KeySet | null = null;
  let kids = '';
  let fetchedAt = 0;
  let unreachable: { since: number; reason: string } | null = null;
  let lastUnknownKeyFetch = Number.NEGATIVE_INFINITY;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let inflight: Promise<boolean> | null = null;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function fetchKeys(): Promise<KeySet> {
    const doc = discovery.safeParse(await fetchJson(discoveryUrl, opts.ca));
    if (!doc.success) throw new Error(`${discoveryUrl}: not an OpenID discovery document (issuer, jwks_uri)`);
    if (doc.data.issuer !== opts.issuer) {
      throw new Error(`${discoveryUrl} names the issuer ${doc.data.issuer}, not ${opts.issuer}`);
    }
    const jwksUri = doc.data.jwks_uri;
    const jwks = jwksShape.safeParse(await fetchJson(jwksUri, opts.ca));
    if (!jwks.success) throw new Error(`${jwksUri}: not a JSON Web Key Set`);
    try {
      return createLocalJWKSet(jwks.data as Parameters<typeof createLocalJWKSet>[0]);
    } catch (e) {
      throw new Error(`${jwksUri}: ${(e as Error).message}`);
    }
  }

  async function doRefresh(): Promise<boolean> {
    lastAttempt = now();
    try {
      const fresh = await fetchKeys();
      const freshKids = fresh
        .jwks()
        .keys.map((k) => k.kid ?? '?')
        .join(',');
      keys = fresh;
      fetchedAt = now();
      if (freshKids !== kids)
        opts.log.info({ issuer: opts.issuer, kids: freshKids }, 'oidc: signing keys loaded');
      kids = freshKids;
      if (unreachable) {
        opts.log.info({ issuer: opts.issuer }, 'oidc: the issuer answers again; its keys are current');
        unreachable = null;
      }
      return true;
    } catch (e) {
      const reason = (e as Error).message;
      if (!unreachable) {
        unreachable = { since: now(), reason };
        opts.log.warn(
          { issuer: opts.issuer, err: reason },
          keys
            ? `oidc: cannot fetch the issuer's keys; validating with the keys fetched at ${iso(fetchedAt)}`
            : "oidc: cannot fetch the issuer's keys; its tokens are refused until it answers",
        );
      }
      return false;
    }
  }

  function refresh(): Promise<boolean> {
    inflight ??= doRefresh().finally(() => {
      inflight = null;
    });
    return inflight;
  }

  function schedule(): void {
    if (stopped) return;
    const wait = keys && !unreachable ? refreshEveryMs : retryEveryMs;
    timer = setTimeout(() => void refresh().finally(schedule), wait);
    // The refresh must never keep a stopping process alive.
    timer.unref();
  }

  async function keyFor(header: JWSHeaderParameters): Promise<CryptoKey> {
    if (!keys) {
      // Before the first keys a request may trigger a fetch, but no more often than the retries run.
      if (inflight) await inflight;
      else if (now() - lastAttempt >= cooldownMs) await refresh();
      if (!keys) throw new OidcKeysUnavailable("cannot verify: the issuer's keys are not available yet");
    }
    try {
      return await (keys as KeySet)(header);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || !header.kid) throw e;
      if (now() - lastUnknownKeyFetch < cooldownMs) throw e;
      lastUnknownKeyFetch = now();
      await refresh();
      return (keys as KeySet)(header);
    }
  }

  return {
    keyFor,
    refresh,
    degraded() {
      if (!unreachable) return keys ? null : `oidc: issuer ${opts.issuer}: keys not fetched yet`;
      const since = `oidc: issuer ${opts.issuer} unreachable since ${iso(unreachable.since)} (${unreachable.reason})`;
      return keys
        ? `${since}; validating with keys fetched at ${iso(fetchedAt)}`
        : `${since}; no keys yet, its tokens are refused`;
    },
    start() {
      stopped = false;
      const first = refresh();
      void first.finally(schedule);
      return first;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

const iso = (ms: number) => new Date(ms).toISOString();
