import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';

const infoSchema = z.object({
  /** https://127.0.0.1:PORT; kept across restarts of the provider, because API servers are configured with it. */
  issuer: z.string(),
  /** PEM of the CA that signed the provider's serving certificate. */
  caFile: z.string(),
  clientId: z.string(),
  /** A second registered client, whose tokens carry another audience. */
  otherClientId: z.string(),
  users: z.array(
    z.object({ name: z.string(), email: z.string(), password: z.string(), groups: z.array(z.string()) }),
  ),
  idTokenTtlSeconds: z.number().int().positive(),
  port: z.number().int().positive(),
});

export type IdpInfo = z.infer<typeof infoSchema>;

/** Where the provider keeps its files inside a testenv directory. */
export function idpPaths(dir: string) {
  const idpDir = join(resolve(dir), 'idp');
  return {
    dir: idpDir,
    info: join(idpDir, 'info.json'),
    /** Private signing keys, newest (the one that signs) first; a restart or SIGHUP reads them. */
    jwks: join(idpDir, 'jwks.json'),
    /** Secret for the provider's signed cookies, so a restart keeps sign-in sessions valid. */
    cookieKeys: join(idpDir, 'cookie-keys.json'),
    process: join(idpDir, 'process.json'),
    /** Sessions, grants and tokens, saved when the provider stops (idp-store.ts). */
    store: join(idpDir, 'store.json'),
    log: join(idpDir, 'idp.log'),
    pki: join(idpDir, 'pki'),
  };
}

/** The provider's info.json in testenv directory `dir`: issuer, CA, client ids and the test users. */
export function readIdpInfo(dir: string): IdpInfo {
  const file = idpPaths(dir).info;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(
        `${file} does not exist; start the testenv with its identity provider (testenv up --idp)`,
      );
    throw err;
  }
  const parsed = infoSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${file}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export function writeIdpInfo(dir: string, info: IdpInfo): void {
  const file = idpPaths(dir).info;
  writeFileSync(`${file}.tmp`, `${JSON.stringify(info, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}
