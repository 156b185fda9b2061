import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import type { TestProject } from 'vitest/node';
import { testenvDown, testenvUp } from '../src/testenv/testenv.js';
import { startPostgres } from './support/postgres-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin kubeconfig path by cluster name (dev, dev2); empty when no integration test is in the run. */
    kubeconfigs: Record<string, string>;
    /** Kubeconfig of Elevate's least-privilege ServiceAccount by cluster name, for Elevate's own config. */
    elevateKubeconfigs: Record<string, string>;
    /** A throwaway PostgreSQL server (postgres://…/postgres); tests create their own databases on it. */
    postgresUrl: string;
    /** State dir of the shared testenv; a test starting a testenv of its own uses a subdirectory of it. */
    testenvDir: string;
    /**
     * Testenv dir whose identity provider both clusters trust (readIdpInfo(idpDir) for issuer, CA, clients and
     * users; test/support/idp.ts for tokens); empty when no integration test is in the run.
     */
    idpDir: string;
  }
}

const controlPlaneDirs = [`${sep}test${sep}integration${sep}`, `${sep}test${sep}e2e${sep}`];

// globalSetup is not told which files will run, so the CLI filters are read back from Vitest (an internal
// field: if it ever disappears every file matches, and the control plane simply always starts).
async function runIncludesIntegration(project: TestProject): Promise<boolean> {
  const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern;
  const { testFiles } = await project.globTestFiles(filters);
  return testFiles.some((file) => controlPlaneDirs.some((dir) => file.includes(dir)));
}

const recordedProcesses = (stateDir: string): { pid: number; cmdline: string[] }[] => {
  const read = (file: string) => {
    try {
      return JSON.parse(readFileSync(join(stateDir, file), 'utf8'));
    } catch {
      return undefined;
    }
  };
  // The identity provider records itself apart from the clusters: tests stop and start it on their own.
  const idp = read(join('idp', 'process.json'));
  return [...(read('testenv.json')?.processes ?? []), ...(idp ? [idp] : [])];
};

// Each pid is checked on its own: one process already gone must not spare the others.
const runningProcesses = (stateDir: string): { pid: number; cmdline: string[] }[] =>
  recordedProcesses(stateDir).filter(({ pid, cmdline }) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'latin1') === `${cmdline.join('\0')}\0`;
    } catch {
      return false;
    }
  });

// An interrupted Vitest (Ctrl-C) exits without running teardowns, which would leave detached control planes
// eating the CPU. An exit handler can only do synchronous work, hence SIGKILL without a grace period. Tests
// that start a testenv of their own do it in a subdirectory of `dir`, so they are covered too.
function killLeftovers(dir: string): void {
  const stateDirs = [
    dir,
    ...readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [join(dir, e.name)] : [])),
  ];
  for (const { pid } of stateDirs.flatMap(runningProcesses)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** One control plane with two clusters shared by every integration test file of the run. */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!(await runIncludesIntegration(project))) {
    project.provide('kubeconfigs', {});
    project.provide('elevateKubeconfigs', {});
    project.provide('testenvDir', '');
    project.provide('idpDir', '');
    project.provide('postgresUrl', '');
    return undefined;
  }
  const dir = await mkdtemp(join(tmpdir(), 'elevate-testenv-'));
  const postgres = await startPostgres();
  project.provide('postgresUrl', postgres.url);
  const onExit = () => {
    killLeftovers(dir);
    postgres.stop();
  };
  process.once('exit', onExit);
  try {
    const clusters = await testenvUp({
      dir,
      clusters: 2,
      idp: true,
      log: (line) => process.stderr.write(`[testenv] ${line}\n`),
    });
    project.provide('kubeconfigs', Object.fromEntries(clusters.map((c) => [c.name, c.kubeconfigPath])));
    project.provide(
      'elevateKubeconfigs',
      Object.fromEntries(clusters.map((c) => [c.name, c.elevateKubeconfigPath])),
    );
    project.provide('testenvDir', dir);
    project.provide('idpDir', dir);
  } catch (err) {
    // testenvUp has stopped what it started; the logs under dir explain the failure, so dir is kept.
    process.off('exit', onExit);
    postgres.stop();
    process.stderr.write(`[testenv] start failed; logs kept in ${dir}\n`);
    throw err;
  }
  return async () => {
    process.off('exit', onExit);
    postgres.stop();
    await testenvDown({ dir });
    await rm(dir, { recursive: true, force: true });
  };
}
