import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type IdpInfo, readIdpInfo } from '../../src/testenv/idp/idp-info.js';
import { signInWithDeviceCode } from '../../src/testenv/idp/idp-sign-in.js';
import { resolveKubeBinaries } from '../../src/testenv/kube-binaries.js';
import { elevateBin, personEnv, repo, run, startCli } from '../support/cli.js';
import { apiFor } from '../support/elevate.js';
import { idToken } from '../support/idp.js';
import { createNamespace, rbacApi, testKubeconfig, uniqueName } from '../support/kube.js';
import { type OidcElevate, startOidcElevate } from '../support/oidc-elevate.js';

/**
 * The whole chain with one identity provider trusted by both Elevate and the API server: alice signs in
 * with the device flow on the provider's real pages, asks for edit; bob approves with his own ID token and
 * a TOTP code; kubectl with alice's own ID token (no --as) turns yes, and no again when the grant expires.
 */
let info: IdpInfo;
let idpDir: string;
let elevate: OidcElevate;
let url: string;
let home: string;
let kubectl: string;
let apiServer: { server: string; caFile: string };

beforeAll(async () => {
  expect(existsSync(join(repo, 'dist/cli/main.js')), 'run `make build` first').toBe(true);
  idpDir = inject('idpDir');
  info = readIdpInfo(idpDir);
  kubectl = (await resolveKubeBinaries(undefined, () => {})).kubectl;
  const admin = new k8s.KubeConfig();
  admin.loadFromFile(testKubeconfig('dev'));
  const cluster = admin.getCurrentCluster();
  const dir = mkdtempSync(join(tmpdir(), 'elevate-chain-'));
  if (!cluster) throw new Error('the testenv kubeconfig names no cluster');
  let caFile = cluster.caFile;
  if (!caFile) {
    caFile = join(dir, 'cluster-ca.pem');
    writeFileSync(caFile, Buffer.from(cluster.caData ?? '', 'base64'));
  }
  apiServer = { server: cluster.server, caFile };

  elevate = await startOidcElevate({
    idp: info,
    files: { 'secrets.key': randomBytes(32).toString('hex') },
    rest: `secrets: { keyFile: ./secrets.key }
limits: { minDuration: 1s }
policies:
  - name: chain-edit
    match: { groups: [devs], namespaces: ["chain-*"], roles: [edit] }
    decision: approval
    approval: { approvers: { groups: [sre-leads] }, required: 1, timeout: 1h, requireMfa: true }
    maxDuration: 1h
    allowEscalatingRoles: [edit]`,
  });
  url = elevate.url;
  home = mkdtempSync(join(tmpdir(), 'elevate-chain-home-'));
});

afterAll(async () => {
  await elevate?.stop();
});

const env = (extra: Record<string, string> = {}) => personEnv(home, url, extra);

/** kubectl auth can-i as the bearer of `token` alone: no client certificate, no impersonation. */
async function canI(token: string, verb: string, resource: string, namespace: string): Promise<boolean> {
  const r = await run(kubectl, [
    'auth',
    'can-i',
    verb,
    resource,
    '-n',
    namespace,
    `--server=${apiServer.server}`,
    `--certificate-authority=${apiServer.caFile}`,
    `--token=${token}`,
    '--kubeconfig=/dev/null',
  ]);
  if (r.stdout.trim() !== 'yes' && r.stdout.trim() !== 'no') {
    throw new Error(`kubectl auth can-i failed (${r.code}): ${r.stderr}`);
  }
  return r.stdout.trim() === 'yes';
}

describe('one identity provider, trusted by Elevate and the API server alike', () => {
  it('alice signs in, bob approves with a TOTP code, her own token can and then cannot', async () => {
    const ns = uniqueName('chain');
    await createNamespace(testKubeconfig('dev'), ns);

    // alice signs in with the device flow; the browser part is played on the provider's real pages.
    const signIn = startCli(['login', '--oidc-ca-file', info.caFile], env());
    const [, verificationUri = '', userCode = ''] = await signIn.waitFor(/Open (\S+) and enter code (\S+)/);
    await signInWithDeviceCode({ dir: idpDir, user: 'alice', userCode, verificationUri });
    const signedIn = await signIn.exit;
    expect(signedIn.code, signedIn.stderr).toBe(0);
    const credentials = JSON.parse(readFileSync(join(home, 'config', 'elevate', 'credentials.json'), 'utf8'));
    const aliceToken: string = credentials.servers[url].idToken;

    expect(await canI(aliceToken, 'create', 'deployments', ns)).toBe(false);
    const asked = await run(
      elevateBin,
      ['request', '--cluster', 'dev', '--role', 'edit', '--namespace', ns, '--duration', '8s'].concat([
        '--reason',
        'INC-7: payments down',
        '-o',
        'json',
      ]),
      env(),
    );
    expect(asked.code, asked.stderr).toBe(0);
    const request = JSON.parse(asked.stdout);
    expect(request.status.phase).toBe('Pending');
    expect(request.spec.requester).toBe('alice@example.com');
    const id: string = request.metadata.name;

    // bob enrols a second factor with his own ID token; his approval needs a fresh code.
    const bobToken = await idToken('bob');
    const bob = apiFor(url, bobToken);
    const enrolled = await bob.post('/api/v1/mfa/enroll');
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
    const secret = enrolled.body.secret as string;
    const now = () => Math.floor(Date.now() / 1000);
    expect(
      (await bob.post('/api/v1/mfa/confirm', { code: await generate({ secret, epoch: now() }) })).status,
    ).toBe(200);

    const withoutCode = await run(elevateBin, ['approve', id, '--token', bobToken], env());
    expect(withoutCode.code).not.toBe(0);
    expect(withoutCode.stderr).toMatch(/code/i);
    // The code of the next step: the current one was spent on the confirmation (a code is good once).
    const otp = await generate({ secret, epoch: now() + 30 });
    const approved = await run(
      elevateBin,
      ['approve', id, '--token', bobToken, '--otp', otp, '-o', 'json'],
      env(),
    );
    expect(approved.code, approved.stderr).toBe(0);
    expect(JSON.parse(approved.stdout).status.phase).toBe('Active');

    // The binding names alice exactly as the API server names the bearer of her token.
    const bindings = await rbacApi(testKubeconfig('dev')).listNamespacedRoleBinding({
      namespace: ns,
      labelSelector: `elevate.dev/request=${id}`,
    });
    expect(bindings.items.map((b) => b.subjects)).toEqual([
      [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'oidc:alice@example.com' }],
    ]);
    expect(await canI(aliceToken, 'create', 'deployments', ns)).toBe(true);

    // At expiry the same token can no longer.
    const deadline = Date.now() + 90_000;
    while ((await canI(aliceToken, 'create', 'deployments', ns)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(await canI(aliceToken, 'create', 'deployments', ns)).toBe(false);
    const ended = await apiFor(url, aliceToken).get(`/api/v1/accessrequests/${id}`);
    expect(ended.body.status.phase).toBe('Expired');
  });
});
