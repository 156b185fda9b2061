import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import type { RecordedProcess } from './testenv-state.js';

/** How long a control plane may take to come up before the start is given up, with its log's tail. */
export const readyTimeoutMs = 90_000;
const logTailLines = 40;

export function loadKubeconfig(path: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

export async function etcdHealthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
    return res.ok;
  } catch {
    return false;
  }
}

export async function apiserverReady(kc: k8s.KubeConfig): Promise<boolean> {
  try {
    return await new k8s.Health(kc).readyz({ signal: AbortSignal.timeout(2_000) });
  } catch {
    return false;
  }
}

export async function controllersDone(kc: k8s.KubeConfig): Promise<boolean> {
  try {
    const edit = await kc.makeApiClient(k8s.RbacAuthorizationV1Api).readClusterRole({ name: 'edit' });
    if (!edit.rules?.length) return false;
    await kc
      .makeApiClient(k8s.CoreV1Api)
      .readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
    return true;
  } catch {
    return false;
  }
}

export async function waitUntil(
  cluster: string,
  what: string,
  check: () => Promise<boolean>,
  deadline: number,
  crashed: () => RecordedProcess | undefined,
  procs: RecordedProcess[],
): Promise<void> {
  for (;;) {
    const dead = crashed();
    if (dead) {
      throw new Error(`testenv ${cluster}: ${dead.name} while waiting for ${what}${logTail(dead.log)}`);
    }
    if (await check()) return;
    if (Date.now() > deadline) {
      // The newest process is the one being waited for.
      const suspect = procs.at(-1);
      throw new Error(
        `testenv ${cluster}: timed out after ${readyTimeoutMs / 1000}s waiting for ${what}` +
          (suspect ? `${logTail(suspect.log)}` : ''),
      );
    }
    await sleep(100);
  }
}

function logTail(file: string): string {
  if (!existsSync(file)) return '';
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-logTailLines);
  return `; last lines of ${file}:\n${lines.join('\n')}`;
}
