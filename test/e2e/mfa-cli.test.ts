import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repo, run } from '../support/cli.js';
import { canI, createNamespace, elevateKubeconfig, testKubeconfig, uniqueName } from '../support/kube.js';
import { type PolicyServer, startPolicyElevate } from '../support/policy-config.js';

/**
 * `elevate mfa …` and `--otp` through the CLI against a running server. The CLI runs from source (tsx), so
 * this needs no build; stdin is not a terminal here, so a missing code is an error rather than a prompt.
 */
let server: PolicyServer;
const keyFile = join(mkdtempSync(join(tmpdir(), 'elevate-mfa-cli-')), 'secrets.key');
writeFileSync(keyFile, randomBytes(32).toString('base64'));

const elevate = (person: string, ...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', join(repo, 'src/cli/main.ts'), ...args], {
    ELEVATE_SERVER: server.url,
    ELEVATE_TOKEN: `token-${person}`,
  });

const code = (secret: string, stepsAhead = 0) =>
  generate({ secret, epoch: Math.floor(Date.now() / 1000) + stepsAhead * 30 });

beforeAll(async () => {
  server = await startPolicyElevate({
    clusters: { dev: elevateKubeconfig('dev') },
    policyText: `
secrets: { keyFile: ${keyFile} }
policies:
  - name: prod-view-mfa
    match: { groups: [devs], namespaces: ['mcli-*'], roles: [view] }
    decision: auto
    requireMfa: true
`,
  });
});

afterAll(async () => {
  await server?.stop();
});

describe('elevate mfa and --otp', () => {
  it('enrols with a QR code, confirms, requests with --otp, and an admin resets', async () => {
    const enrolled = await elevate('alice', 'mfa', 'enroll');
    expect(enrolled.code, enrolled.stderr).toBe(0);
    expect(enrolled.stdout).toMatch(/[▀▄█]/); // the QR code, drawn with half blocks
    expect(enrolled.stdout).toMatch(/^otpauth:\/\/totp\/Elevate:alice\?secret=/m);
    const secret = /^secret: ([A-Z2-7]+)$/m.exec(enrolled.stdout)?.[1] as string;
    expect(secret).toBeTruthy();

    const wrongShape = await elevate('alice', 'mfa', 'confirm', '12345');
    expect(wrongShape.code).toBe(1);
    expect(wrongShape.stderr).toContain('a one-time code is 6 digits');
    const confirmed = await elevate('alice', 'mfa', 'confirm', await code(secret));
    expect(confirmed.stdout.trim()).toBe('alice: enrolled and confirmed');

    const ns = uniqueName('mcli');
    await createNamespace(testKubeconfig('dev'), ns);
    const ask = ['request', '--cluster', 'dev', '--role', 'view', '--namespace', ns, '--reason', 'deploy'];
    const without = await elevate('alice', ...ask);
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(
      /request under policy prod-view-mfa requires a one-time code: send it in the Elevate-OTP header \(on the CLI: --otp CODE\) \(HTTP 403\)/,
    );
    const granted = await elevate('alice', ...ask, '--otp', await code(secret, 1), '-o', 'json');
    expect(granted.code, granted.stderr).toBe(0);
    expect(JSON.parse(granted.stdout).status.phase).toBe('Active');
    expect(
      await canI(testKubeconfig('dev'), { user: 'alice', verb: 'get', resource: 'pods', namespace: ns }),
    ).toBe(true);

    const notAdmin = await elevate('alice', 'mfa', 'reset', 'alice');
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr).toContain('only an admin may reset');
    const reset = await elevate('root', 'mfa', 'reset', 'alice');
    expect(reset.stdout.trim()).toBe('MFA enrolment of alice reset');
    expect((await elevate('alice', 'mfa', 'status')).stdout.trim()).toBe('alice: not enrolled');
  });
});
