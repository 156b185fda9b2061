import { readFileSync, writeFileSync } from 'node:fs';
import type { IdpInfo } from './idp-info.js';

/** The prefix the testenv API servers put before OIDC user names and groups, e.g. oidc:alice@example.com. */
export const oidcPrefix = 'oidc:';

/**
 * A structured AuthenticationConfiguration (apiserver.config.k8s.io/v1, kube-apiserver
 * --authentication-config) that trusts the testenv provider for tokens issued to Elevate's client: the user
 * is the email claim (the API server also insists on email_verified being true when present) and the groups
 * come from the groups claim, both prefixed with `oidc:`. Client certificates and ServiceAccount tokens keep
 * working beside it; only the --oidc-* flags may not be combined with this file.
 */
export function writeAuthenticationConfig(file: string, info: IdpInfo): string {
  const config = {
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'AuthenticationConfiguration',
    jwt: [
      {
        issuer: {
          url: info.issuer,
          certificateAuthority: readFileSync(info.caFile, 'utf8'),
          audiences: [info.clientId],
        },
        claimMappings: {
          username: { claim: 'email', prefix: oidcPrefix },
          groups: { claim: 'groups', prefix: oidcPrefix },
        },
      },
    ],
  };
  // JSON is YAML, which is what kube-apiserver reads.
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}
