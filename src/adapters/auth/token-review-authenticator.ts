import * as k8s from '@kubernetes/client-node';
import type { Authenticator, AuthOutcome } from '../../services/ports.js';
import { callWithin } from '../kube/kube-clients.js';
import { sha256 } from './token-file.js';

export interface TokenReviewOptions {
  /** The cluster whose API server checks the tokens (auth.kubernetes.cluster). */
  cluster: string;
  /** Audiences the token must be issued for; empty: the API server's own. */
  audiences: string[];
  /** How long an answer (yes or no) is reused for the same token. */
  cacheForMs: number;
  /** Answers kept at most; the oldest goes first. */
  maxCached?: number;
  /** Deadline of one TokenReview. */
  timeoutMs?: number;
  /** A TokenReview that could not be made (cluster down, Elevate not allowed to create TokenReviews). */
  onFailure?: (message: string) => void;
}

const jwtShape = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const serviceAccountUser = /^system:serviceaccount:[^:]+:[^:]+$/;

/**
 * ServiceAccount tokens of one cluster, checked by its TokenReview API. Only JWT-shaped tokens are sent
 * (an opaque string is no ServiceAccount token, and is not worth a round trip). Of what the cluster
 * accepts, only ServiceAccounts are taken: a cluster may also accept its own static or bootstrap tokens,
 * whose user names mean nothing to Elevate and could collide with its own users.
 *
 * Answers are cached by the token's digest for cacheForMs (never past the token's own exp), both yes and
 * no, so a busy integration costs one TokenReview per interval. A TokenReview that cannot be made is
 * refused (401) rather than cached: the port has no "try again later", and the refusal says why.
 */
export function createTokenReviewAuthenticator(
  authn: Pick<k8s.AuthenticationV1Api, 'createTokenReview'>,
  options: TokenReviewOptions,
): Authenticator {
  const { cluster, audiences, cacheForMs, maxCached = 10_000, timeoutMs = 5_000 } = options;
  const cache = new Map<string, { outcome: AuthOutcome; until: number }>();
  let failing: string | null = null;

  function remember(key: string, outcome: AuthOutcome, until: number): void {
    if (until <= Date.now()) return;
    cache.delete(key);
    while (cache.size >= maxCached) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
    cache.set(key, { outcome, until });
  }

  async function review(token: string): Promise<AuthOutcome | 'failed'> {
    try {
      const answer = await callWithin(timeoutMs, cluster, 'TokenReview', () =>
        authn.createTokenReview({
          body: {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenReview',
            spec: { token, ...(audiences.length > 0 ? { audiences } : {}) },
          },
        }),
      );
      failing = null;
      const status = answer.status;
      if (!status?.authenticated || !status.user?.username) {
        const why = status?.error ? `: ${status.error}` : '';
        return { refused: `the cluster ${cluster} does not accept this token${why}` };
      }
      const user = status.user.username;
      if (!serviceAccountUser.test(user)) {
        return {
          refused: `the cluster ${cluster} knows this token as ${user}, not a ServiceAccount; auth.kubernetes takes only ServiceAccount tokens`,
        };
      }
      return {
        identity: {
          user,
          ...(status.user.uid ? { uid: status.user.uid } : {}),
          groups: status.user.groups ?? [],
          source: { kind: 'kubernetes', cluster },
        },
      };
    } catch (e) {
      const why =
        e instanceof k8s.ApiException
          ? `the cluster ${cluster} refused the TokenReview (HTTP ${e.code})`
          : `cluster ${cluster} unreachable`;
      failing = `cannot check ServiceAccount tokens: ${why}`;
      // An API server's refusal is told by its code alone: client-node's message quotes whole bodies, and
      // what reaches a log must never risk quoting the review (and so the token).
      const cause = e instanceof k8s.ApiException ? '' : ` (${(e as Error).message.slice(0, 200)})`;
      options.onFailure?.(`${failing}${cause}`);
      return 'failed';
    }
  }

  return {
    async authenticate(token) {
      if (!jwtShape.test(token)) return null;
      const key = sha256(token).toString('hex');
      const cached = cache.get(key);
      if (cached && cached.until > Date.now()) return cached.outcome;
      const outcome = await review(token);
      if (outcome === 'failed') {
        return {
          refused: `cannot check the token now: cluster ${cluster} unreachable or refusing; try again`,
        };
      }
      remember(key, outcome, Math.min(Date.now() + cacheForMs, expiryOf(token)));
      return outcome;
    },
    degraded: () => failing,
  };
}

/** The token's exp in ms, read without trusting it (only to cache no longer); Infinity when absent. */
function expiryOf(token: string): number {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return typeof payload?.exp === 'number' ? payload.exp * 1000 : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
