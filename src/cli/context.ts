import { type Command, Option } from 'commander';
import type { AccessRequestResource } from '../http/resources.js';
import { ApiError, createApiClient } from './api-client.js';
import { createCredentialsStore } from './login/credentials-store.js';
import { storedToken } from './login/stored-token.js';
import { describeRequest } from './render.js';

/** Commands that print an access request take `-o json` for the whole object. */
export type Output = { output?: 'json' };

export const outputOption = () => new Option('-o, --output <format>', 'output format').choices(['json']);

type ApiClient = ReturnType<typeof createApiClient>;

/** Where a command's bearer came from, to say what to do when the server refuses it. */
type TokenOrigin = 'given' | 'stored' | 'none';

/**
 * The bearer for a command: --token, else ELEVATE_TOKEN (commander folds both into `token`), else the
 * credential `elevate login` stored for this server, renewed when it is about to expire.
 */
export async function resolveToken(
  server: string,
  token: string | undefined,
): Promise<{ bearer: string | undefined; origin: TokenOrigin }> {
  if (token) return { bearer: token, origin: 'given' };
  const bearer = await storedToken(server, createCredentialsStore());
  return { bearer, origin: bearer ? 'stored' : 'none' };
}

const hints: Record<TokenOrigin, string | null> = {
  given: null,
  stored: 'the sign-in kept by elevate login was refused: run elevate login again',
  none: 'no token given: run elevate login, or set --token / ELEVATE_TOKEN',
};

/**
 * The API client for the server given as a global option (or ELEVATE_SERVER) and the caller's token. The
 * token is looked up on the first call, so commands that never reach the server never read the credentials.
 */
export function client(cmd: Command): ApiClient {
  const { server, token } = cmd.optsWithGlobals<{ server: string; token?: string }>();
  let api: Promise<{ api: ApiClient; origin: TokenOrigin }> | undefined;
  const connect = () => {
    api ??= resolveToken(server, token).then(({ bearer, origin }) => ({
      api: createApiClient({ server, token: bearer }),
      origin,
    }));
    return api;
  };
  // Every method of the API client, each waiting for the token first; a 401 says how to get a good one.
  return new Proxy({} as ApiClient, {
    get:
      (_target, method: keyof ApiClient) =>
      async (...args: unknown[]) => {
        const { api: real, origin } = await connect();
        try {
          return await (real[method] as (...a: unknown[]) => Promise<unknown>)(...args);
        } catch (e) {
          const hint = hints[origin];
          if (hint && e instanceof ApiError && e.status === 401)
            throw new ApiError(`${e.message}\n${hint}`, 401);
          throw e;
        }
      },
  });
}

/** The whole request: described for people, or as JSON. */
export function printRequest(r: AccessRequestResource, opts: Output): void {
  console.log(opts.output === 'json' ? JSON.stringify(r, null, 2) : describeRequest(r));
}

/** What a change did, in one line (`accessrequest/ar-… Active: …`), or the whole request as JSON. */
export function printOutcome(r: AccessRequestResource, opts: Output): void {
  if (opts.output === 'json') printRequest(r, opts);
  else console.log(`accessrequest/${r.metadata.name} ${r.status.phase}: ${r.status.message}`);
}
