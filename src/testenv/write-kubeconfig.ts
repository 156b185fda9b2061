import { readFile, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

export interface KubeconfigParams {
  path: string;
  /** Names the cluster and the context. */
  name: string;
  /** Names the user entry; distinct per identity so kubeconfigs can be merged with KUBECONFIG. */
  user: string;
  server: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** Writes a self-contained kubeconfig (certificates embedded) that works wherever the file is copied. */
export async function writeKubeconfig(params: KubeconfigParams): Promise<void> {
  const b64 = async (file: string) => (await readFile(file)).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: params.name,
        cluster: { server: params.server, 'certificate-authority-data': await b64(params.caFile) },
      },
    ],
    users: [
      {
        name: params.user,
        user: {
          'client-certificate-data': await b64(params.certFile),
          'client-key-data': await b64(params.keyFile),
        },
      },
    ],
    contexts: [{ name: params.name, context: { cluster: params.name, user: params.user } }],
    'current-context': params.name,
  };
  await writeFile(params.path, stringify(config), { mode: 0o600 });
}
