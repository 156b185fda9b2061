import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { composeElevate, createLogger } from '../src/composition-root.js';
import { parseConfig } from '../src/config/load-config.js';

export interface BenchElevateOptions {
  /** Where the config, token file and database go. */
  dir: string;
  /** Cluster name to kubeconfig path. */
  clusters: Record<string, string>;
  /** Requesters, all in group devs: each grant needs its own user, since one user's grants would overlap. */
  users: string[];
  /** Default 10s, as a deployment would run it. */
  reconcileInterval?: string;
}

export interface BenchElevate {
  url: string;
  stop(): Promise<void>;
}

export const adminUser = 'bench-root';
export const tokenOf = (user: string) => `token-${user}`;

/** Writes a config like test/support/elevate.ts does, but for many users, and runs Elevate in-process. */
export async function startBenchElevate(opts: BenchElevateOptions): Promise<BenchElevate> {
  const tokens = [
    ...opts.users.map((u) => `${tokenOf(u)},${u},uid-${u},"devs"`),
    `${tokenOf(adminUser)},${adminUser},uid-${adminUser},"platform-admins"`,
  ];
  writeFileSync(join(opts.dir, 'tokens.csv'), `${tokens.join('\n')}\n`);
  const clusters = Object.entries(opts.clusters)
    .map(([name, kubeconfig]) => `  - name: ${name}\n    kubeconfig: ${kubeconfig}`)
    .join('\n');
  const file = join(opts.dir, 'elevate.yaml');
  // Silent logging: with pino writing a line per state change, the bench would partly time stdout.
  const text = `listen: 127.0.0.1:0
storage: sqlite:./elevate.db
logLevel: silent
auth:
  tokenFile: ./tokens.csv
  admins: { groups: [platform-admins] }
clusters:
${clusters}
reconcile:
  interval: ${opts.reconcileInterval ?? '10s'}
# The expiry bench grants seconds; a deployment keeps the 1m default.
limits:
  minDuration: 1s
policies:
  - name: view-auto
    match: { groups: [devs], roles: [view] }
    decision: auto
    maxDuration: 8h
`;
  writeFileSync(file, text);
  const config = parseConfig(text, file);
  const elevate = await composeElevate(config, createLogger('silent'));
  const url = await elevate.start();
  return { url, stop: () => elevate.stop() };
}
