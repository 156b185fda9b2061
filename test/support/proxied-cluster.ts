import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elevateKubeconfig, uniqueName } from './kube.js';
import { startTcpProxy } from './tcp-proxy.js';

export interface ProxiedCluster {
  /** Elevate's kubeconfig for the cluster, pointing at the proxy instead of the API server. */
  kubeconfig: string;
  /** Makes the cluster unreachable for Elevate (connections refused) without touching the cluster. */
  cut(): Promise<void>;
  restore(): Promise<void>;
}

/** Elevate's own kubeconfig for a testenv cluster, routed through a TCP proxy a test can cut. */
export async function proxiedCluster(cluster: string): Promise<ProxiedCluster> {
  const text = readFileSync(elevateKubeconfig(cluster), 'utf8');
  const port = Number(/server: https:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1]);
  if (!port) throw new Error(`no 127.0.0.1 server in ${elevateKubeconfig(cluster)}`);
  const proxy = await startTcpProxy({ host: '127.0.0.1', port });
  const kubeconfig = join(tmpdir(), `${uniqueName(`${cluster}-proxy`)}.kubeconfig`);
  writeFileSync(kubeconfig, text.replace(`127.0.0.1:${port}`, `127.0.0.1:${proxy.port()}`));
  return { kubeconfig, cut: proxy.cut, restore: proxy.restore };
}
