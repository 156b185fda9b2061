import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import * as oidc from 'openid-client';
import { z } from 'zod';

/** What GET /api/v1/auth/config tells a client that has no token yet. */
const authConfigSchema = z.object({
  oidc: z
    .object({
      issuer: z.string().min(1),
      clientId: z.string().min(1),
      scopes: z.array(z.string()).default([]),
    })
    .nullable(),
  sources: z.array(z.string()).default([]),
});

/** The provider a sign-in or a refresh talks to: discovered metadata plus the client Elevate trusts. */
export interface IdentityProvider {
  config: oidc.Configuration;
  issuer: string;
  clientId: string;
  scopes: string[];
  caFile?: string;
}

/**
 * Trusts a CA bundle for the provider's TLS (a testenv or a company CA) on top of the default ones.
 * Node's fetch reads the process-wide default CA list, so this reaches openid-client without a custom agent.
 */
export function trustCaFile(caFile: string): void {
  const pem = readFileSync(caFile, 'utf8');
  const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!certs?.length) throw new Error(`${caFile} holds no PEM certificate`);
  setDefaultCACertificates([...getCACertificates('default'), ...certs]);
}

const loopback = (url: URL) => ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);

/** A provider by issuer and client, as at refresh time (from the stored credential). */
export async function discoverProvider(p: Omit<IdentityProvider, 'config'>): Promise<IdentityProvider> {
  if (p.caFile) trustCaFile(p.caFile);
  const issuer = new URL(p.issuer);
  let config: oidc.Configuration;
  try {
    // The CLI is a public client (no secret): it proves itself with PKCE or the device code.
    config = await oidc.discovery(issuer, p.clientId, undefined, oidc.None(), {
      // Plain http only for a provider on this machine (a developer's Dex); anywhere else tokens need TLS.
      ...(issuer.protocol === 'http:' && loopback(issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
    });
  } catch (e) {
    throw new Error(`cannot read the OpenID configuration of ${p.issuer}: ${describeOidcError(e)}`);
  }
  return { ...p, config };
}

/** Asks the Elevate server (no token needed) which provider it trusts, then discovers that provider. */
export async function providerOfServer(server: string, caFile?: string): Promise<IdentityProvider> {
  const url = `${server.replace(/\/+$/, '')}/api/v1/auth/config`;
  let body: unknown;
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = await res.json();
  } catch (e) {
    throw new Error(`cannot ask ${url} how to sign in: ${describeOidcError(e)}`);
  }
  const parsed = authConfigSchema.safeParse(body);
  if (!parsed.success) throw new Error(`${url} answered something other than an auth config`);
  const { oidc: provider, sources } = parsed.data;
  if (!provider) {
    throw new Error(
      `${server} does not sign people in with OpenID Connect (it accepts: ${sources.join(', ') || 'nothing'}); ` +
        'give a token with --token or ELEVATE_TOKEN',
    );
  }
  const scopes = provider.scopes.includes('openid') ? provider.scopes : ['openid', ...provider.scopes];
  return discoverProvider({
    issuer: provider.issuer,
    clientId: provider.clientId,
    scopes,
    ...(caFile ? { caFile: resolve(caFile) } : {}),
  });
}

/** The provider's own words (error and error_description), or the network's, never a stack. */
export function describeOidcError(e: unknown): string {
  if (e instanceof oidc.ResponseBodyError) {
    return e.error_description ? `${e.error}: ${e.error_description}` : e.error;
  }
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return cause ? `${err.message} (${cause})` : (err.message ?? String(e));
}
