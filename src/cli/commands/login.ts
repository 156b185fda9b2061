import type { Command } from 'commander';
import { parsePositiveDuration } from '../../domain/duration.js';
import { describeSource, type IdentitySource } from '../../domain/identity.js';
import { createApiClient } from '../api-client.js';
import { durationArg } from '../arguments.js';
import { client, type Output, outputOption } from '../context.js';
import { createCredentialsStore, type StoredCredential, serverKey } from '../login/credentials-store.js';

interface Whoami {
  user: string;
  groups: string[];
  admin: boolean;
  source?: IdentitySource;
}

const describeWhoami = (me: Whoami) =>
  `${me.user} (groups: ${me.groups.join(', ') || 'none'})${me.admin ? ' [admin]' : ''}` +
  (me.source ? ` via ${describeSource(me.source)}` : '');

interface LoginOptions {
  browser?: boolean;
  open: boolean;
  oidcCaFile?: string;
  timeout: string;
  printToken?: boolean;
}

/** Signing in through the server's OpenID provider, forgetting it, and asking who the server sees. */
export function addLoginCommands(program: Command): void {
  program
    .command('login')
    .description("sign in through the server's OpenID provider; the credential is kept for later commands")
    .option(
      '--browser',
      'sign in with a browser on this machine (authorization code + PKCE) instead of a code',
    )
    .option('--no-open', 'with --browser: print the URL without starting a browser')
    .option('--oidc-ca-file <file>', "PEM bundle to trust for the provider's TLS (default: ELEVATE_CA's)")
    .option('--timeout <d>', 'how long to wait for the sign-in', durationArg, '5m')
    .option('--print-token', 'print the ID token on stdout (for kubectl --token, scripts)')
    .action(async (opts: LoginOptions, cmd: Command) => {
      const { server } = cmd.optsWithGlobals<{ server: string }>();
      const tell = (line: string) => console.error(line);
      const { providerOfServer } = await import('../login/identity-provider.js');
      const provider = await providerOfServer(server, opts.oidcCaFile);
      const timeoutMs = parsePositiveDuration(opts.timeout) as number;
      let credential: StoredCredential;
      if (opts.browser) {
        const { browserFlowSignIn } = await import('../login/browser-flow.js');
        credential = await browserFlowSignIn(provider, { tell, openBrowser: opts.open, timeoutMs });
      } else {
        const { deviceFlowSignIn } = await import('../login/device-flow.js');
        credential = await deviceFlowSignIn(provider, tell, AbortSignal.timeout(timeoutMs));
      }
      // Kept only once the server takes it: a token it refuses (wrong audience, claims) helps nobody later.
      const me = await createApiClient({ server, token: credential.idToken })
        .json<Whoami>('GET', '/api/v1/whoami')
        .catch((e: Error) => {
          throw new Error(
            `signed in at ${provider.issuer}, but ${serverKey(server)} refused the token: ${e.message}`,
          );
        });
      const store = createCredentialsStore();
      store.save(server, credential);
      tell(`Signed in to ${serverKey(server)} as ${describeWhoami(me)}`);
      tell(
        `(credential kept in ${store.file} until ${credential.expiresAt}${credential.refreshToken ? ', then renewed' : ''})`,
      );
      if (opts.printToken) console.log(credential.idToken);
    });

  program
    .command('logout')
    .description('forget the credential elevate login kept for this server')
    .action((_opts, cmd: Command) => {
      const { server } = cmd.optsWithGlobals<{ server: string }>();
      const store = createCredentialsStore();
      if (store.forget(server)) console.log(`Signed out of ${serverKey(server)}.`);
      else console.log(`Not signed in to ${serverKey(server)}; nothing to forget.`);
    });

  program
    .command('whoami')
    .description('show who the server sees: user, groups, and where the identity came from')
    .addOption(outputOption())
    .action(async (opts: Output, cmd: Command) => {
      const me = await client(cmd).json<Whoami>('GET', '/api/v1/whoami');
      console.log(opts.output === 'json' ? JSON.stringify(me, null, 2) : describeWhoami(me));
    });
}
