// The testenv identity provider as a process of its own: `node idp-main.js DIR`. It serves until SIGTERM and
// re-reads its signing keys on SIGHUP, so a key rotation needs no restart (and keeps sessions and tokens).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { idpPaths, readIdpInfo } from './idp-info.js';
import { handleInteraction } from './idp-interactions.js';
import { readJwks } from './idp-keys.js';
import { createIdpProvider } from './idp-provider.js';
import { IdpStore } from './idp-store.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: idp-main DIR');
  process.exit(2);
}
const paths = idpPaths(dir);
const info = readIdpInfo(dir);
const cookieKeys = JSON.parse(readFileSync(paths.cookieKeys, 'utf8')) as string[];
// One store for every provider instance: a key reload must not sign anyone out or forget a refresh token.
const store = new IdpStore(paths.store);
const load = () => {
  const provider = createIdpProvider(info, readJwks(paths.jwks), cookieKeys, store.adapter());
  return { provider, serve: provider.callback() };
};
let current = load();

const server = createServer(
  {
    cert: readFileSync(`${paths.pki}/server.crt`),
    key: readFileSync(`${paths.pki}/server.key`),
  },
  (req, res) => {
    // The provider in use when the request arrived serves all of it, even if a reload happens meanwhile.
    const { provider, serve } = current;
    handleInteraction(provider, req, res)
      .then((handled) => {
        if (!handled) return serve(req, res);
      })
      .catch((err: unknown) => {
        console.error('request failed', err);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
  },
);

process.on('SIGHUP', () => {
  try {
    current = load();
    console.log(
      `reloaded signing keys (${readJwks(paths.jwks)
        .keys.map((k) => k.kid)
        .join(', ')})`,
    );
  } catch (err) {
    console.error('could not reload signing keys; still using the previous ones', err);
  }
});
process.on('SIGTERM', () => {
  store.save();
  server.close(() => process.exit(0));
  server.closeAllConnections();
});

server.listen(info.port, '127.0.0.1', () => console.log(`OpenID provider ${info.issuer} ready`));
