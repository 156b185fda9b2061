import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isRunning, type ProcessIdentity, spawnDetached, stopProcesses } from '../detached-process.js';
import { freePort } from '../free-port.js';
import { IdpBrowser } from './idp-browser.js';
import { type IdpInfo, idpPaths, readIdpInfo, writeIdpInfo } from './idp-info.js';
import { addSigningKey, ensureJwks, readJwks } from './idp-keys.js';
import { ensureIdpPki } from './idp-pki.js';
import { idpUsers } from './idp-users.js';

export interface StartIdpOptions {
  /** The testenv directory; the provider lives in DIR/idp. */
  dir: string;
  /** ID (and access) token lifetime; default 600, or what the previous start in `dir` used. */
  idTokenTtlSeconds?: number;
  log?: (line: string) => void;
}

const readyTimeoutMs = 30_000;

/**
 * Writes everything the provider and its relying parties need (CA and serving certificate, signing keys,
 * info.json with a fixed issuer) without starting it, so API server configs can be written meanwhile. A
 * second call in the same dir keeps the port, keys and CA: clusters configured earlier keep trusting it.
 */
export async function prepareIdp(opts: StartIdpOptions): Promise<IdpInfo> {
  const paths = idpPaths(opts.dir);
  await mkdir(paths.dir, { recursive: true });
  const previous = existsSync(paths.info) ? readIdpInfo(opts.dir) : undefined;
  const pki = await ensureIdpPki(paths.pki);
  ensureJwks(paths.jwks);
  if (!existsSync(paths.cookieKeys))
    writeFileSync(paths.cookieKeys, JSON.stringify([randomBytes(32).toString('base64url')]), { mode: 0o600 });
  const port = previous?.port ?? (await freePort());
  const info: IdpInfo = {
    issuer: `https://127.0.0.1:${port}`,
    caFile: pki.caCert,
    clientId: 'elevate',
    otherClientId: 'other-app',
    users: idpUsers.map((u) => ({ ...u, groups: [...u.groups] })),
    idTokenTtlSeconds: opts.idTokenTtlSeconds ?? previous?.idTokenTtlSeconds ?? 600,
    port,
  };
  writeIdpInfo(opts.dir, info);
  return info;
}

function recordedProcess(dir: string): ProcessIdentity | undefined {
  try {
    return JSON.parse(readFileSync(idpPaths(dir).process, 'utf8')) as ProcessIdentity;
  } catch {
    return undefined;
  }
}

/** True while the provider started in `dir` runs. */
export function idpRunning(dir: string): boolean {
  const proc = recordedProcess(dir);
  return proc !== undefined && isRunning(proc);
}

// Run from dist (bin/elevate) the compiled entry is beside this file; run from the sources (tests, tsx) the
// .ts entry needs tsx's loader, resolved from this package so the cwd does not matter.
function entryCommand(dir: string): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const tsx = join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/loader.mjs');
    return ['--import', pathToFileURL(tsx).href, join(dirname(here), 'idp-main.ts'), dir];
  }
  return [join(dirname(here), 'idp-main.js'), dir];
}

/**
 * Starts the OpenID provider of testenv `dir` as a detached process (or adopts the one already running) and
 * resolves with its info once discovery answers.
 */
export async function startIdp(opts: StartIdpOptions): Promise<IdpInfo> {
  const dir = resolve(opts.dir);
  if (idpRunning(dir)) {
    const running = readIdpInfo(dir).idTokenTtlSeconds;
    if (opts.idTokenTtlSeconds !== undefined && opts.idTokenTtlSeconds !== running)
      throw new Error(
        `the identity provider in ${dir} runs with ID tokens of ${running}s, not ${opts.idTokenTtlSeconds}s; stop it first`,
      );
  }
  const info = await prepareIdp({ ...opts, dir });
  const paths = idpPaths(dir);
  if (!idpRunning(dir)) {
    const proc = spawnDetached(process.execPath, entryCommand(dir), paths.log);
    writeFileSync(paths.process, JSON.stringify({ pid: proc.pid, cmdline: proc.cmdline }));
    let exited: string | undefined;
    void proc.exited.then((how) => {
      exited = how;
    });
    await waitReady(info, () => exited, paths.log);
    opts.log?.(`identity provider: ready at ${info.issuer} (${paths.info})`);
  } else {
    await waitReady(info, () => (idpRunning(dir) ? undefined : 'exited'), paths.log);
  }
  return info;
}

/** Stops the provider of testenv `dir`; its keys, CA and info.json stay for the next start. */
export async function stopIdp(opts: { dir: string }): Promise<void> {
  const proc = recordedProcess(resolve(opts.dir));
  if (proc) await stopProcesses([proc]);
  rmSync(idpPaths(opts.dir).process, { force: true });
}

/**
 * Makes the running provider sign with a new RS256 key, without a restart. The previous key stays in the
 * JWKS for tokens it signed, unless `dropOld`. Resolves with the new key id once the provider publishes it.
 */
export async function rotateIdpKeys(opts: { dir: string; dropOld?: boolean }): Promise<string> {
  const dir = resolve(opts.dir);
  const kid = addSigningKey(idpPaths(dir).jwks, opts.dropOld ?? false);
  const proc = recordedProcess(dir);
  if (!proc || !isRunning(proc)) return kid; // read at the next start
  process.kill(proc.pid, 'SIGHUP');
  const info = readIdpInfo(dir);
  const browser = new IdpBrowser(info.caFile);
  const want = readJwks(idpPaths(dir).jwks)
    .keys.map((k) => k.kid)
    .join();
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    const res = await browser.send('GET', `${info.issuer}/jwks`).catch(() => undefined);
    const published = res?.status === 200 ? (JSON.parse(res.body) as { keys: { kid: string }[] }) : undefined;
    if (published?.keys.map((k) => k.kid).join() === want) return kid;
    if (Date.now() > deadline)
      throw new Error(`the identity provider did not publish key ${kid}; see ${idpPaths(dir).log}`);
    await sleep(50);
  }
}

async function waitReady(info: IdpInfo, exited: () => string | undefined, log: string): Promise<void> {
  const browser = new IdpBrowser(info.caFile);
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    const how = exited();
    if (how) throw new Error(`the identity provider ${how}${logTail(log)}`);
    const res = await browser
      .send('GET', `${info.issuer}/.well-known/openid-configuration`)
      .catch(() => undefined);
    if (res?.status === 200) return;
    if (Date.now() > deadline)
      throw new Error(`the identity provider did not answer within ${readyTimeoutMs / 1000}s${logTail(log)}`);
    await sleep(100);
  }
}

function logTail(file: string): string {
  if (!existsSync(file)) return '';
  return `; last lines of ${file}:\n${readFileSync(file, 'utf8').trimEnd().split('\n').slice(-30).join('\n')}`;
}
