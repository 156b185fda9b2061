import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface KubeBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubectl: string;
}

const buildScript = join('scripts', 'build-kube.sh');

// This file runs from src/testenv under vitest and from dist/testenv after a build, so the repository is
// found by looking upwards rather than by a fixed number of '..'.
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, buildScript))) return dir;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`no ${buildScript} above ${fileURLToPath(import.meta.url)}; pass binDir`);
    dir = parent;
  }
}

function runBuildScript(log: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(repoRoot(), buildScript)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    // The first build takes minutes (about 6 on two idle cores, as the README says; longer when they are
    // shared), so its progress is worth showing.
    let partial = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) log(line);
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (partial) log(partial);
      const dir = stdout.trim().split('\n').pop();
      if (code === 0 && dir) resolve(dir);
      else reject(new Error(`${buildScript} failed with code ${code}`));
    });
  });
}

/** The binaries in `binDir`, or in the cache filled by scripts/build-kube.sh (building them if needed). */
export async function resolveKubeBinaries(
  binDir: string | undefined,
  log: (line: string) => void,
): Promise<KubeBinaries> {
  const dir = binDir ?? (await runBuildScript(log));
  const bins: KubeBinaries = {
    etcd: join(dir, 'etcd'),
    kubeApiserver: join(dir, 'kube-apiserver'),
    kubeControllerManager: join(dir, 'kube-controller-manager'),
    kubectl: join(dir, 'kubectl'),
  };
  for (const bin of Object.values(bins)) {
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      throw new Error(`${bin} is missing or not executable`);
    }
  }
  return bins;
}
