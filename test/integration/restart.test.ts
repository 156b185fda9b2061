import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { apiFor, requestBody, writeElevateConfig } from '../support/elevate.js';
import { freePort } from '../support/free-port.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const elevateBin = join(repo, 'bin/elevate');
const children: ChildProcess[] = [];

/** Starts `bin/elevate server`; resolves once /readyz answers 200. */
async function startServer(config: string, url: string): Promise<ChildProcess> {
  const child = spawn(elevateBin, ['server', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  child.on('exit', () => (exited = true));
  await waitFor(
    async () => {
      if (exited) throw new Error(`elevate server exited:\n${output}`);
      return (await fetch(`${url}/readyz`)).status === 200;
    },
    { timeoutMs: 15_000, intervalMs: 20 },
  ).catch((e) => {
    throw new Error(`${(e as Error).message}\n${output}`);
  });
  return child;
}

afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('a crash', () => {
  it('kill -9 while a grant is active, expiry passes while down: revoked within 2 s of start', async () => {
    expect(existsSync(join(repo, 'dist/cli/main.js')), 'run `make build` first').toBe(true);
    const kubeconfig = testKubeconfig('dev');
    const ns = uniqueName('crash');
    await createNamespace(kubeconfig, ns);
    const canList = () => canI(kubeconfig, { user: 'alice', verb: 'list', resource: 'pods', namespace: ns });
    // A long reconcile interval, so it is the start-up catch-up, not a periodic pass, that revokes.
    const listen = `127.0.0.1:${await freePort()}`;
    const url = `http://${listen}`;
    const config = writeElevateConfig({
      clusters: { dev: elevateKubeconfig('dev') },
      reconcileInterval: '10m',
      listen,
    });

    const first = await startServer(config, url);
    const res = await apiFor(url, 'token-alice').post(
      '/api/v1/accessrequests',
      requestBody({ role: 'view', namespace: ns, duration: '3s' }),
    );
    expect(res.body.status.phase).toBe('Active');
    expect(await canList()).toBe(true);

    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const expiresAt = Date.parse(res.body.status.grant.expiresAt);
    await new Promise((r) => setTimeout(r, expiresAt - Date.now() + 1000));
    // Nobody removed it while Elevate was down.
    expect(await canList()).toBe(true);

    const startedAt = Date.now();
    await startServer(config, url);
    await waitFor(async () => !(await canList()), { timeoutMs: 10_000, intervalMs: 20 });
    const revokedAfterMs = Date.now() - startedAt;
    console.log(`restart catch-up: access gone ${revokedAfterMs} ms after the server process started`);
    expect(revokedAfterMs).toBeLessThanOrEqual(2000);

    const after = await apiFor(url, 'token-root').get(`/api/v1/accessrequests/${res.body.metadata.name}`);
    expect(after.body.status.phase).toBe('Expired');
  });
});
