import { resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';

function clusterCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 10)
    throw new InvalidArgumentError('must be an integer from 1 to 10');
  return n;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** Local real control planes for tests and demos. */
export function addTestenvCommands(program: Command): void {
  const testenv = program
    .command('testenv')
    .description('local real Kubernetes control planes for tests and demos');
  testenv
    .command('up')
    .description('start N control planes (etcd, kube-apiserver, kube-controller-manager) on 127.0.0.1')
    .requiredOption('--dir <dir>', 'state directory')
    .option('--clusters <n>', 'how many clusters', clusterCount, 1)
    .option(
      '--apiserver-arg <flag>',
      'extra kube-apiserver flag (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [],
    )
    .option('--idp', 'also start the OpenID provider the clusters trust (DIR/idp/info.json)', false)
    .option(
      '--idp-token-ttl <seconds>',
      'ID token lifetime of that provider (default 600, or as before)',
      positiveInt,
    )
    .option(
      '--audit-webhook <url>',
      "send every API server's audit events here ({cluster} is replaced by its name), e.g. " +
        'https://127.0.0.1:8443/api/v1/activity/kube-audit/{cluster} (https: the token is only sent over TLS)',
    )
    .option('--audit-webhook-token-file <file>', 'the bearer token the API servers send to the audit webhook')
    .option(
      '--audit-webhook-ca-file <file>',
      "the CA of Elevate's serving certificate, for the audit webhook",
    )
    .option(
      '--authz-webhook <url>',
      'ask this authorization webhook after Node and RBAC ({cluster} is replaced by its name), e.g. ' +
        'https://127.0.0.1:8443/api/v1/authorize/{cluster} (NoOpinion when it cannot answer, nothing cached)',
    )
    .option(
      '--authz-webhook-token-file <file>',
      'the bearer token the API servers send to the authorization webhook',
    )
    .option(
      '--authz-webhook-ca-file <file>',
      "the CA of Elevate's serving certificate, for the authorization webhook",
    )
    .action(
      async (opts: {
        dir: string;
        clusters: number;
        apiserverArg: string[];
        idp: boolean;
        idpTokenTtl?: number;
        auditWebhook?: string;
        auditWebhookTokenFile?: string;
        auditWebhookCaFile?: string;
        authzWebhook?: string;
        authzWebhookTokenFile?: string;
        authzWebhookCaFile?: string;
      }) => {
        if ((opts.auditWebhook === undefined) !== (opts.auditWebhookTokenFile === undefined)) {
          throw new InvalidArgumentError('give --audit-webhook and --audit-webhook-token-file together');
        }
        if ((opts.authzWebhook === undefined) !== (opts.authzWebhookTokenFile === undefined)) {
          throw new InvalidArgumentError('give --authz-webhook and --authz-webhook-token-file together');
        }
        const webhook = (
          url: string | undefined,
          tokenFile: string | undefined,
          caFile: string | undefined,
        ) =>
          url && tokenFile
            ? { url, tokenFile: resolve(tokenFile), ...(caFile ? { caFile: resolve(caFile) } : {}) }
            : null;
        const auditWebhook = webhook(opts.auditWebhook, opts.auditWebhookTokenFile, opts.auditWebhookCaFile);
        const authzWebhook = webhook(opts.authzWebhook, opts.authzWebhookTokenFile, opts.authzWebhookCaFile);
        const { testenvUp } = await import('../../testenv/testenv.js');
        const clusters = await testenvUp({
          dir: opts.dir,
          clusters: opts.clusters,
          apiserverArgs: opts.apiserverArg,
          idp: opts.idp,
          idpTokenTtlSeconds: opts.idpTokenTtl,
          ...(auditWebhook ? { auditWebhook } : {}),
          ...(authzWebhook ? { authzWebhook } : {}),
          log: (line) => console.error(line),
        });
        for (const c of clusters) console.log(`${c.name}\t${c.server}\t${c.kubeconfigPath}`);
        if (opts.idp) {
          const { idpPaths, readIdpInfo } = await import('../../testenv/idp/idp-info.js');
          console.log(`idp\t${readIdpInfo(opts.dir).issuer}\t${idpPaths(opts.dir).info}`);
        }
      },
    );
  testenv
    .command('down')
    .description('stop the control planes started in DIR (and nothing else)')
    .requiredOption('--dir <dir>', 'state directory')
    .action(async (opts: { dir: string }) => {
      const { testenvDown } = await import('../../testenv/testenv.js');
      await testenvDown({ dir: opts.dir });
    });
  testenv
    .command('token')
    .description("print an ID token for a test user, signed in through the testenv provider's real pages")
    .requiredOption('--dir <dir>', 'state directory')
    .requiredOption('--user <name>', 'alice, bob, carol, dave or admin')
    .option('--client <id>', 'client (audience) the token is for; default elevate')
    .option('--device', 'sign in with the device flow instead of authorization code + PKCE', false)
    .action(async (opts: { dir: string; user: string; client?: string; device: boolean }) => {
      const { fetchIdToken } = await import('../../testenv/idp/idp-sign-in.js');
      const tokens = await fetchIdToken({
        dir: opts.dir,
        user: opts.user,
        clientId: opts.client,
        flow: opts.device ? 'device' : 'code',
      });
      console.log(tokens.idToken);
    });
  testenv
    .command('sign-in')
    .description('play the person at the browser: complete a device sign-in (elevate login) as a test user')
    .requiredOption('--dir <dir>', 'state directory')
    .requiredOption('--user <name>', 'alice, bob, carol, dave or admin')
    .requiredOption('--code <user-code>', 'the code elevate login printed')
    .action(async (opts: { dir: string; user: string; code: string }) => {
      const { signInWithDeviceCode } = await import('../../testenv/idp/idp-sign-in.js');
      await signInWithDeviceCode({ dir: opts.dir, user: opts.user, userCode: opts.code });
      console.error(`signed in as ${opts.user}`);
    });
}
