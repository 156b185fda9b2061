import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { client } from '../context.js';

interface GrantCredential {
  cluster: string;
  user: string;
  token: string;
  expiresAt: string;
  server: string;
  certificateAuthorityData: string | null;
  kubeconfig: string;
}

interface CredentialsOptions {
  cluster?: string;
  outputFile?: string;
  exec?: boolean;
  execCredential?: boolean;
}

/**
 * A kubeconfig whose user asks Elevate for a token each time kubectl needs one (a kubectl exec credential
 * plugin): no token is written down, and none is handed out once the grant has ended.
 */
function execKubeconfig(id: string, c: GrantCredential, server: string, cluster: string | undefined): string {
  const name = `elevate-${id}-${c.cluster}`;
  const command = process.env.ELEVATE_COMMAND ?? 'elevate';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name,
        cluster: {
          server: c.server,
          ...(c.certificateAuthorityData ? { 'certificate-authority-data': c.certificateAuthorityData } : {}),
        },
      },
    ],
    users: [
      {
        name,
        user: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command,
            args: [
              '--server',
              server,
              'credentials',
              id,
              '--exec-credential',
              ...(cluster ? ['--cluster', cluster] : []),
            ],
            interactiveMode: 'Never',
            provideClusterInfo: false,
          },
        },
      },
    ],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
  });
}

/** `elevate credentials ID`: the kubeconfig of a credential grant, for its requester. */
export function addCredentialCommands(program: Command): void {
  program
    .command('credentials')
    .description('a kubeconfig for an Active credential grant (its own ServiceAccount, short-lived token)')
    .argument('<id>', 'access request id')
    .option('--cluster <name>', "which of the request's clusters (when it names several)")
    .option('--output-file <file>', 'write the kubeconfig here (mode 0600) instead of printing it')
    .option('--exec', 'a kubeconfig that asks elevate for a fresh token whenever kubectl needs one')
    .option('--exec-credential', 'print an ExecCredential (what kubectl runs the --exec kubeconfig for)')
    .action(async (id: string, opts: CredentialsOptions, cmd: Command) => {
      const body = opts.cluster ? { cluster: opts.cluster } : {};
      const c = await client(cmd).json<GrantCredential>(
        'POST',
        `/api/v1/accessrequests/${id}/credentials`,
        body,
      );
      if (opts.execCredential) {
        console.log(
          JSON.stringify({
            apiVersion: 'client.authentication.k8s.io/v1',
            kind: 'ExecCredential',
            status: { token: c.token, expirationTimestamp: c.expiresAt },
          }),
        );
        return;
      }
      const { server } = cmd.optsWithGlobals<{ server: string }>();
      const kubeconfig = opts.exec ? execKubeconfig(id, c, server, opts.cluster) : c.kubeconfig;
      if (!opts.outputFile) {
        process.stdout.write(kubeconfig);
        return;
      }
      writeFileSync(opts.outputFile, kubeconfig, { mode: 0o600 });
      console.error(
        `wrote ${opts.outputFile}: ${c.user} on cluster ${c.cluster}, token until ${c.expiresAt}`,
      );
    });
}
