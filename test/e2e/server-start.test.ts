import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { elevateBin, repo, run } from '../support/cli.js';
import { elevateKubeconfig } from '../support/kube.js';

let dir: string;

beforeAll(async () => {
  expect(existsSync(join(repo, 'dist/cli/main.js')), 'run `make build` first').toBe(true);
  dir = await mkdtemp(join(tmpdir(), 'elevate-start-'));
  writeFileSync(join(dir, 'tokens.csv'), 'token-x,x\n');
});

/** Runs `elevate server` on a config made of `extra` plus what any config needs; it must refuse to start. */
async function refusal(extra: string) {
  const file = join(dir, `elevate-${Math.random().toString(16).slice(2)}.yaml`);
  writeFileSync(
    file,
    `listen: 127.0.0.1:0\nstorage: sqlite:./e.db\nauth: { tokenFile: ./tokens.csv }\nlogLevel: silent\n${extra}`,
  );
  const res = await run(elevateBin, ['server', '--config', file]);
  expect(res.code, res.stdout).not.toBe(0);
  return { file, stderr: res.stderr };
}

const dev = () => `clusters: [{ name: dev, kubeconfig: ${elevateKubeconfig('dev')} }]\n`;

describe('elevate server refuses to start, naming the file and the field', () => {
  it('when a TLS file is missing', async () => {
    const { file, stderr } = await refusal(
      `${dev()}tls: { certFile: ./missing.crt, keyFile: ./missing.key }\n`,
    );
    expect(stderr).toContain(`${file}: tls: `);
    expect(stderr).toContain(join(dir, 'missing.crt'));
    expect(stderr).toMatch(/ENOENT/);
  });

  it('when metrics.listen is not host:port', async () => {
    const { file, stderr } = await refusal(`${dev()}metrics: { listen: "9090" }\n`);
    expect(stderr).toContain(`${file}: metrics.listen: expected host:port`);
  });

  it('when a port is out of range', async () => {
    const { file, stderr } = await refusal(`${dev()}metrics: { listen: "127.0.0.1:99999" }\n`);
    expect(stderr).toContain(`${file}: metrics.listen: the port must be 0 to 65535`);
  });

  it('when metrics.listen cannot be bound', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as AddressInfo;
    try {
      const { file, stderr } = await refusal(`${dev()}metrics: { listen: "127.0.0.1:${port}" }\n`);
      expect(stderr).toContain(`${file}: metrics.listen: cannot listen on 127.0.0.1:${port}: `);
      expect(stderr).toMatch(/EADDRINUSE/);
    } finally {
      busy.close();
    }
  });

  it('when two clusters have the same name', async () => {
    const kubeconfig = elevateKubeconfig('dev');
    const { file, stderr } = await refusal(
      `clusters:\n  - { name: dev, kubeconfig: ${kubeconfig} }\n  - { name: dev, kubeconfig: ${kubeconfig} }\n`,
    );
    expect(stderr).toContain(`${file}: clusters[1].name: duplicate cluster dev`);
  });
});
