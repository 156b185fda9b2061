import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeElevate, createLogger } from '../../src/composition-root.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { IdpInfo } from '../../src/testenv/idp/idp-info.js';
import { elevateKubeconfig } from './kube.js';

export interface OidcElevateOptions {
  /** The provider whose ID tokens the server takes (the shared testenv's, or a test's own). */
  idp: IdpInfo;
  /** More fields of auth.oidc, inline YAML: `clockSkew: 1s`. */
  oidc?: string;
  /** More lines under auth:, e.g. `tokenFile: ./tokens.csv` (written as given, indented by two). */
  auth?: string[];
  /** The rest of the config (policies, limits, secrets…), top-level YAML. */
  rest?: string;
  /** Files beside the config (token file, key file), by name. */
  files?: Record<string, string>;
}

export interface OidcElevate {
  url: string;
  /** The config's directory. */
  dir: string;
  stop(): Promise<void>;
}

/**
 * An Elevate server in this process that takes the provider's ID tokens, with the shared testenv's dev
 * cluster named as its API server names the provider's people (the oidc: prefixes of testenv's
 * AuthenticationConfiguration).
 */
export async function startOidcElevate(opts: OidcElevateOptions): Promise<OidcElevate> {
  const { idp } = opts;
  const dir = mkdtempSync(join(tmpdir(), 'elevate-oidc-'));
  for (const [name, content] of Object.entries(opts.files ?? {})) {
    writeFileSync(join(dir, name), content, { mode: 0o600 });
  }
  const oidcExtra = opts.oidc ? `, ${opts.oidc}` : '';
  const file = join(dir, 'elevate.yaml');
  writeFileSync(
    file,
    `listen: 127.0.0.1:0
storage: sqlite:./elevate.db
logLevel: silent
auth:
  oidc: { issuer: "${idp.issuer}", clientId: ${idp.clientId}, caFile: "${idp.caFile}"${oidcExtra} }
${(opts.auth ?? []).map((line) => `  ${line}\n`).join('')}clusters:
  - name: dev
    kubeconfig: ${elevateKubeconfig('dev')}
    subjects: { userPrefix: "oidc:", groupPrefix: "oidc:" }
${opts.rest ?? ''}
`,
  );
  const elevate = await composeElevate(parseConfig(readFileSync(file, 'utf8'), file), createLogger('silent'));
  const url = await elevate.start();
  return { url, dir, stop: () => elevate.stop() };
}
