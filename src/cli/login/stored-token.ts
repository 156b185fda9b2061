import { credentialFromTokens } from './credential-from-tokens.js';
import type { CredentialsStore, StoredCredential } from './credentials-store.js';
import { withFileLock } from './file-lock.js';

/** An ID token this close to its expiry is renewed first, so it does not lapse between here and the server. */
export const refreshMargin = 60_000;

/** Trades the refresh token for a new ID token at the provider the credential came from. */
export async function refreshCredential(credential: StoredCredential): Promise<StoredCredential> {
  if (!credential.refreshToken) throw new Error('the sign-in has no refresh token');
  // Loaded only when a refresh is due: most commands never need the OpenID client.
  const oidc = await import('openid-client');
  const { describeOidcError, discoverProvider } = await import('./identity-provider.js');
  const provider = await discoverProvider({
    issuer: credential.issuer,
    clientId: credential.clientId,
    scopes: [],
    ...(credential.caFile ? { caFile: credential.caFile } : {}),
  });
  try {
    const tokens = await oidc.refreshTokenGrant(provider.config, credential.refreshToken);
    return credentialFromTokens(tokens, provider, credential.refreshToken);
  } catch (e) {
    throw new Error(describeOidcError(e));
  }
}

/**
 * The bearer for `server` from the signed-in credential: the stored ID token while it has more than a
 * minute left, else a refreshed one (stored for the next command). None when nobody signed in there.
 */
export async function storedToken(
  server: string,
  store: Pick<CredentialsStore, 'get' | 'save' | 'file'>,
  {
    now = () => Date.now(),
    refresh = refreshCredential,
  }: { now?: () => number; refresh?: typeof refreshCredential } = {},
): Promise<string | undefined> {
  const fresh = (c: StoredCredential | undefined) => c && Date.parse(c.expiresAt) - now() > refreshMargin;
  const credential = store.get(server);
  if (!credential) return undefined;
  if (fresh(credential)) return credential.idToken;
  return withFileLock(`${store.file}.lock`, async () => {
    // Another command may have renewed it while this one waited for the lock.
    const current = store.get(server);
    if (!current) throw new Error(`signed out of ${server} meanwhile: run elevate login`);
    if (fresh(current)) return current.idToken;
    let renewed: StoredCredential;
    try {
      renewed = await refresh(current);
    } catch (e) {
      throw new Error(
        `your sign-in to ${server} has expired and could not be renewed (${(e as Error).message}): run elevate login`,
      );
    }
    store.save(server, renewed);
    return renewed.idToken;
  });
}
