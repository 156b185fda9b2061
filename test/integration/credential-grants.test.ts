import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { elevateCli } from '../support/cli.js';
import { aliceAsksForView, auditEvents, requestBody } from '../support/elevate.js';
import { createNamespace, elevateKubeconfig, testKubeconfig, uniqueName, waitFor } from '../support/kube.js';
import { kubectlWith } from '../support/kubectl.js';
import { type PolicyServer, serveFromFile, startPolicyElevate } from '../support/policy-config.js';

/**
 * Credential grants (policy grant: credential): the grant's own ServiceAccount in elevate-grants is bound,
 * and the requester gets a kubeconfig with a short-lived token of it. Proven with the issued kubeconfig
 * itself against a real API server: no before, yes while Active, refused as soon as the grant ends.
 */
describe('credential grants', () => {
  let server: PolicyServer;
  const dir = mkdtempSync(join(tmpdir(), 'elevate-credentials-'));
  const cli = () => elevateCli(server.url);
  /** `kubectl auth can-i` as whoever the kubeconfig says: 'yes', 'no', or the error (an unusable token). */
  async function canI(kubeconfig: string, verb: string, resource: string, ns: string) {
    const res = await kubectlWith(kubeconfig, ['auth', 'can-i', verb, resource, '-n', ns]);
    return res.out.trim().split('\n').at(-1) ?? '';
  }
  const admin = () => testKubeconfig('dev');
  const accountExists = async (name: string) =>
    (await kubectlWith(admin(), ['get', 'serviceaccount', '-n', 'elevate-grants', name])).code === 0;

  beforeAll(async () => {
    server = await startPolicyElevate({
      clusters: { dev: elevateKubeconfig('dev') },
      policyText: `
policies:
  - name: contractors
    match: { groups: [devs], roles: [view] }
    decision: auto
    maxDuration: 1h
    grant: credential
`,
    });
  });
  afterAll(() => server?.stop());

  it('binds a per-grant ServiceAccount and hands its requester a kubeconfig that works until the grant ends', async () => {
    const ns = uniqueName('cred');
    await createNamespace(admin(), ns);
    // A cluster that offers bindings only: refused, saying why.
    const unoffered = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ cluster: 'dev', role: 'view', namespace: ns }));
    expect(unoffered.status).toBe(403);
    expect(unoffered.body.detail).toBe(
      'policy contractors grants by credential, which cluster dev does not offer (it offers binding)',
    );
    server.replaceConfig(
      readFileSync(server.configFile, 'utf8').replace(
        `kubeconfig: ${elevateKubeconfig('dev')}`,
        `kubeconfig: ${elevateKubeconfig('dev')}\n    grants: [binding, credential]`,
      ),
    );
    const granted = await waitFor(
      async () => {
        const res = await aliceAsksForView(server, ns, '30m');
        return res.status === 201 ? res.body : null;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    const id: string = granted.metadata.name;
    expect(granted.status.phase).toBe('Active');
    expect(granted.status.grant).toMatchObject({
      mechanism: 'credential',
      serviceAccounts: [`dev/elevate-grants/elevate-${id}`],
    });
    expect(await accountExists(`elevate-${id}`)).toBe(true);
    // The binding names the ServiceAccount, not alice.
    const binding = await kubectlWith(admin(), [
      'get',
      'rolebinding',
      '-n',
      ns,
      `elevate-${id}`,
      '-o',
      'json',
    ]);
    expect(JSON.parse(binding.out).subjects).toEqual([
      { kind: 'ServiceAccount', name: `elevate-${id}`, namespace: 'elevate-grants' },
    ]);

    // Only the requester gets credentials; the issued kubeconfig is the ServiceAccount's.
    expect((await server.as('bob').post(`/api/v1/accessrequests/${id}/credentials`, {})).status).toBe(403);
    const file = join(dir, `${id}.yaml`);
    const written = await cli()('alice', 'credentials', id, '--output-file', file);
    expect(written.code, written.stderr).toBe(0);
    expect(written.stderr).toContain(`system:serviceaccount:elevate-grants:elevate-${id} on cluster dev`);
    let issued = parse(readFileSync(file, 'utf8'));
    expect(issued.users[0].user.token).toMatch(/^ey/);
    expect(await canI(file, 'list', 'pods', ns)).toBe('yes');
    expect(await canI(file, 'delete', 'pods', ns)).toBe('no');
    expect(await canI(file, 'list', 'pods', 'default')).toBe('no');
    const whoami = await kubectlWith(file, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
    expect(whoami.out.trim()).toBe(`system:serviceaccount:elevate-grants:elevate-${id}`);

    // Drift: the grant's ServiceAccount deleted by hand is made again (tokens of the old one stay dead), and
    // a look-alike labelled as Elevate's that no live grant stands behind is removed.
    const deletedAccount = await kubectlWith(admin(), [
      'delete',
      'serviceaccount',
      '-n',
      'elevate-grants',
      `elevate-${id}`,
    ]);
    expect(deletedAccount.code, deletedAccount.out).toBe(0);
    const forged = `elevate-ar-${uniqueName('x').slice(2)}`;
    const made = await kubectlWith(
      admin(),
      ['apply'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: {
          name: forged,
          namespace: 'elevate-grants',
          labels: { 'app.kubernetes.io/managed-by': 'elevate', 'elevate.dev/request': 'ar-nobody' },
        },
      }),
    );
    expect(made.code, made.out).toBe(0);
    await waitFor(async () => (await accountExists(`elevate-${id}`)) && !(await accountExists(forged)), {
      timeoutMs: 15_000,
      intervalMs: 250,
    });
    const repairs = (await auditEvents(server)).map((e) => e.action);
    expect(repairs).toEqual(
      expect.arrayContaining(['ServiceAccountRestored', 'OrphanServiceAccountRemoved']),
    );
    // A fresh token works again; the one issued for the deleted account does not.
    expect((await cli()('alice', 'credentials', id, '--output-file', file)).code).toBe(0);
    expect(await canI(file, 'list', 'pods', ns)).toBe('yes');
    issued = parse(readFileSync(file, 'utf8'));

    // The exec form: kubectl asks elevate for a token itself.
    const execFile = join(dir, `${id}-exec.yaml`);
    const exec = await cli()('alice', 'credentials', id, '--exec', '--output-file', execFile);
    expect(exec.code, exec.stderr).toBe(0);
    expect(parse(readFileSync(execFile, 'utf8')).users[0].user.exec.args).toContain('--exec-credential');
    const viaExec = await kubectlWith(execFile, ['auth', 'can-i', 'list', 'pods', '-n', ns], undefined, {
      ELEVATE_TOKEN: 'token-alice',
    });
    expect(viaExec.out.trim()).toBe('yes');

    // Revoked: the bindings go first (refused at once), then the ServiceAccount.
    const revoked = await server.as('alice').post(`/api/v1/accessrequests/${id}/revoke`, { reason: 'done' });
    expect(revoked.body.status.phase).toBe('Revoked');
    expect(await canI(file, 'list', 'pods', ns)).not.toBe('yes');
    expect(await accountExists(`elevate-${id}`)).toBe(false);
    // The token dies with its ServiceAccount: once the API server's token cache (~10 s) has passed it no
    // longer authenticates at all, although its own expiry is half an hour away.
    const unauthenticated = await waitFor(
      async () => {
        const res = await kubectlWith(file, ['auth', 'whoami']);
        return res.code !== 0 && /Unauthorized/.test(res.out) ? res.out : null;
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    expect(unauthenticated).toMatch(/Unauthorized/);
    // No more tokens for an ended grant, through either form.
    expect((await server.as('alice').post(`/api/v1/accessrequests/${id}/credentials`, {})).status).toBe(409);
    const refusedExec = await kubectlWith(execFile, ['auth', 'can-i', 'list', 'pods', '-n', ns], undefined, {
      ELEVATE_TOKEN: 'token-alice',
    });
    expect(refusedExec.out).not.toMatch(/^yes/m);

    const actions = (await auditEvents(server)).filter((e) => e.requestId === id).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['GrantActivated', 'CredentialIssued', 'GrantRevoked']));
    // The token itself is never in the audit trail.
    expect(JSON.stringify(await auditEvents(server))).not.toContain(issued.users[0].user.token);
  });

  // Runs after the test above, whose config change left dev offering credential grants.
  it('ends a credential grant that expired while Elevate was down: bindings and ServiceAccount gone', async () => {
    const ns = uniqueName('cred-restart');
    await createNamespace(admin(), ns);
    const res = await aliceAsksForView(server, ns, '3s');
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const id: string = res.body.metadata.name;
    const file = join(dir, `${id}.yaml`);
    expect((await cli()('alice', 'credentials', id, '--output-file', file)).code).toBe(0);
    expect(await canI(file, 'list', 'pods', ns)).toBe('yes');
    await server.stop();
    await new Promise((r) =>
      setTimeout(r, Math.max(0, Date.parse(res.body.status.grant.expiresAt) + 500 - Date.now())),
    );
    // Down past its expiry: the access is still there until Elevate is back.
    expect(await accountExists(`elevate-${id}`)).toBe(true);
    server = await serveFromFile(server.configFile);
    const ended = await server.as('alice').get(`/api/v1/accessrequests/${id}`);
    expect(ended.body.status.phase).toBe('Expired');
    expect(await canI(file, 'list', 'pods', ns)).not.toBe('yes');
    expect(await accountExists(`elevate-${id}`)).toBe(false);
  });
});
