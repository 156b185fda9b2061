import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { composeElevate, createLogger } from '../../src/composition-root.js';
import { parseConfig } from '../../src/config/load-config.js';
import { apiFor, people, type RunningElevate } from './elevate.js';
import { waitFor } from './kube.js';

/**
 * A server whose policies are the test's own (not the shared testPolicies): `policyText` is the YAML of
 * `policies:` and whatever else of the policy language the test needs (profiles, guardrails), and
 * `limits` lines are added under `limits:` beside minDuration: 1s.
 */
export interface PolicyServerOptions {
  /** Cluster name to kubeconfig path; a cluster's labels go in `clusterLabels`. */
  clusters: Record<string, string>;
  clusterLabels?: Record<string, Record<string, string>>;
  policyText: string;
  /** Extra lines under `limits:` (e.g. `maxActivePerUser: 2`). */
  limits?: string[];
  /** More token-file identities (name → groups) beside `people`; their tokens are `token-<name>`. */
  extraPeople?: Record<string, readonly string[]>;
  /** More lines (YAML) under a cluster's entry, e.g. `grants: [binding, webhook]`. */
  clusterLines?: Record<string, string[]>;
  /** host:port; default 127.0.0.1:0 (a free port). */
  listen?: string;
}

/** The whole config file for these options: everything but the policy language stays the same across rewrites. */
export function policyConfigText(opts: PolicyServerOptions): string {
  const clusters = Object.entries(opts.clusters)
    .map(([name, kubeconfig]) => {
      const labels = opts.clusterLabels?.[name];
      const labelText = labels ? `\n    labels: ${JSON.stringify(labels)}` : '';
      const more = (opts.clusterLines?.[name] ?? []).map((l) => `\n    ${l}`).join('');
      return `  - name: ${name}\n    kubeconfig: ${kubeconfig}${labelText}${more}`;
    })
    .join('\n');
  const limits = ['minDuration: 1s', ...(opts.limits ?? [])].map((l) => `  ${l}`).join('\n');
  return `listen: ${opts.listen ?? '127.0.0.1:0'}
storage: sqlite:./elevate.db
logLevel: warn
auth:
  tokenFile: ./tokens.csv
  admins: { groups: [platform-admins] }
clusters:
${clusters}
reconcile:
  interval: 1s
limits:
${limits}
${opts.policyText}
`;
}

export interface PolicyServer extends RunningElevate {
  /** Replaces the config file whole, as `mv` of a complete file does (a rename into place). */
  replaceConfig(text: string): void;
}

/** Runs a whole Elevate server in this process with the test's own policies. */
export async function startPolicyElevate(opts: PolicyServerOptions): Promise<PolicyServer> {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-policy-'));
  writeFileSync(
    join(dir, 'tokens.csv'),
    Object.entries({ ...people, ...opts.extraPeople })
      .map(([name, groups]) => `token-${name},${name},uid-${name},"${groups.join(',')}"`)
      .join('\n'),
  );
  const file = join(dir, 'elevate.yaml');
  writeFileSync(file, policyConfigText(opts));
  return serveFromFile(file);
}

/**
 * Runs Elevate from a config file written by startPolicyElevate: another start on the same file (and so the
 * same database) is a restart.
 */
export async function serveFromFile(file: string): Promise<PolicyServer> {
  const dir = dirname(file);
  const config = parseConfig(readFileSync(file, 'utf8'), file);
  // ELEVATE_TEST_LOG=warn shows the server's own log while a test is looked into.
  const elevate = await composeElevate(config, createLogger(process.env.ELEVATE_TEST_LOG ?? 'silent'));
  const url = await elevate.start();
  let n = 0;
  return {
    url,
    configFile: file,
    elevate,
    as: (person) => apiFor(url, `token-${person}`),
    isLeader: async () => (await apiFor(url, null).get('/readyz')).body.leader === true,
    stop: () => elevate.stop(),
    replaceConfig(text) {
      const next = join(dir, `elevate.yaml.new-${n++}`);
      writeFileSync(next, text);
      renameSync(next, file);
    },
  };
}

/** Polls until `fn` returns something truthy (10 s), for answers that follow a change a little later. */
export const eventually = <T>(fn: () => T | Promise<T>, timeoutMs = 15_000) =>
  waitFor(fn, { timeoutMs, intervalMs: 100 });
