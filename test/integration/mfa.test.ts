import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiResponse, auditEvents, type Person, requestBody } from '../support/elevate.js';
import { canI, createNamespace, elevateKubeconfig, testKubeconfig, uniqueName } from '../support/kube.js';
import { type PolicyServer, startPolicyElevate } from '../support/policy-config.js';

const keyDir = mkdtempSync(join(tmpdir(), 'elevate-mfa-key-'));
const keyFile = join(keyDir, 'secrets.key');
writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });

const glassNs = uniqueName('mglass');
const policyText = `
secrets:
  keyFile: ${keyFile}
profiles:
  - name: glass
    targets: [{ cluster: dev, namespace: ${glassNs}, role: view }]
breakglass:
  roster: { users: [dave] }
  profiles: [glass]
  requireMfa: true
policies:
  - name: prod-view-mfa
    match: { groups: [devs], namespaces: ['mreq-*'], roles: [view] }
    decision: auto
    requireMfa: true
  - name: approvers-mfa
    match: { groups: [devs], namespaces: ['mapp-*'], roles: [view] }
    decision: approval
    approval: { approvers: { groups: [sre-leads] }, required: 1, timeout: 1h, requireMfa: true }
`;

let server: PolicyServer;
let kubeconfig: string;
/** Every secret and code sent, to look for in the audit export at the end. */
const secrets: string[] = [];
const codes: string[] = [];

beforeAll(async () => {
  kubeconfig = testKubeconfig('dev');
  await createNamespace(kubeconfig, glassNs);
  server = await startPolicyElevate({ clusters: { dev: elevateKubeconfig('dev') }, policyText });
});

afterAll(async () => {
  await server?.stop();
});

/**
 * The code an authenticator app shows `stepsAhead` steps from now. Codes are good once, and a code of the
 * next step is accepted too (±1 step), so a test uses the current step to confirm and the next to step up
 * without waiting for the clock.
 */
async function code(secret: string, stepsAhead = 0): Promise<string> {
  const c = await generate({ secret, epoch: Math.floor(Date.now() / 1000) + stepsAhead * 30 });
  codes.push(c);
  return c;
}

/** Enrols and confirms `person`; returns the secret (as an app would have scanned it). */
async function enrol(person: Person): Promise<string> {
  const enrolled = await server.as(person).post('/api/v1/mfa/enroll');
  expect(enrolled.status).toBe(201);
  expect(enrolled.body.uri).toMatch(new RegExp(`^otpauth://totp/Elevate:${person}\\?`));
  const secret = enrolled.body.secret as string;
  secrets.push(secret);
  const confirmed = await server.as(person).post('/api/v1/mfa/confirm', { code: await code(secret) });
  expect(confirmed.status).toBe(200);
  expect(confirmed.body).toMatchObject({ user: person, enrolled: true, confirmed: true, lockedUntil: null });
  return secret;
}

function post(person: Person, path: string, body: unknown, otp?: string): Promise<ApiResponse> {
  return server.as(person).raw(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(otp ? { 'elevate-otp': otp } : {}) },
  });
}

async function viewRequest(person: Person, prefix: string, otp?: string) {
  const ns = uniqueName(prefix);
  await createNamespace(kubeconfig, ns);
  const body = requestBody({ role: 'view', namespace: ns, duration: '10m' });
  return { ns, res: await post(person, '/api/v1/accessrequests', body, otp) };
}

const canGetPods = (user: string, ns: string) =>
  canI(kubeconfig, { user, verb: 'get', resource: 'pods', namespace: ns });

const mfaEvents = async (user: string) =>
  (await auditEvents(server))
    .filter((e) => String(e.action).startsWith('Mfa') && e.details.user === user)
    .map((e) => [e.action, e.details.reason ?? null]);

describe('step-up with TOTP', () => {
  it('a policy with requireMfa refuses without a code, saying how to enrol, and takes a fresh code once', async () => {
    const unenrolled = await viewRequest('alice', 'mreq');
    expect(unenrolled.res.status).toBe(403);
    expect(unenrolled.res.contentType).toMatch(/application\/problem\+json/);
    expect(unenrolled.res.body).toMatchObject({
      type: 'https://elevate.dev/problems/mfa-enrolment-required',
      detail: expect.stringMatching(
        /request under policy prod-view-mfa requires a one-time code, but alice has not enrolled: enrol with `elevate mfa enroll`/,
      ),
    });

    const secret = await enrol('alice');
    const noCode = await viewRequest('alice', 'mreq');
    expect(noCode.res.status).toBe(403);
    expect(noCode.res.body).toMatchObject({
      type: 'https://elevate.dev/problems/otp-required',
      detail: expect.stringMatching(/Elevate-OTP header/),
    });
    expect(await server.as('alice').get('/api/v1/accessrequests')).toMatchObject({ body: { items: [] } });

    // A dry run judges without a code and uses none up.
    const dryRun = await post(
      'alice',
      '/api/v1/accessrequests?dryRun=All',
      requestBody({ role: 'view', namespace: noCode.ns, duration: '10m' }),
    );
    expect(dryRun.status).toBe(200);
    expect(dryRun.body.status.decision.policy).toBe('prod-view-mfa');
    expect(dryRun.body.status.decision).toMatchObject({ requireMfa: true, approvalRequiresMfa: false });

    const fresh = await code(secret, 1);
    const { ns, res } = await viewRequest('alice', 'mreq', fresh);
    expect(res.status).toBe(201);
    expect(res.body.status.phase).toBe('Active');
    expect(await canGetPods('alice', ns)).toBe(true);

    const replay = await viewRequest('alice', 'mreq', fresh);
    expect(replay.res.status).toBe(403);
    expect(replay.res.body).toMatchObject({
      type: 'https://elevate.dev/problems/otp-invalid',
      detail: expect.stringMatching(/used already/),
    });
    expect(await canGetPods('alice', replay.ns)).toBe(false);

    const malformed = await viewRequest('alice', 'mreq', '12345x');
    expect(malformed.res.status).toBe(400);
    expect(malformed.res.body.field).toBe('headers.elevate-otp');

    expect(await mfaEvents('alice')).toEqual([
      ['MfaEnrolled', null],
      ['MfaVerified', null],
      ['MfaConfirmed', null],
      ['MfaVerified', null],
      ['MfaFailed', 'replay'],
    ]);
  });

  it("approval.requireMfa: bob's approval without a code is refused, with his code the grant is Active", async () => {
    const { ns, res } = await viewRequest('alice', 'mapp');
    expect(res.status).toBe(201);
    const id = res.body.metadata.name as string;
    expect(res.body.status.phase).toBe('Pending');

    const secret = await enrol('bob');
    const bare = await post('bob', `/api/v1/accessrequests/${id}/approve`, {});
    expect(bare.status).toBe(403);
    expect(bare.body).toMatchObject({
      type: 'https://elevate.dev/problems/otp-required',
      detail: expect.stringMatching(/^approval under policy approvers-mfa requires a one-time code/),
    });
    expect((await server.as('bob').get(`/api/v1/accessrequests/${id}`)).body.status.phase).toBe('Pending');

    const approved = await post('bob', `/api/v1/accessrequests/${id}/approve`, {}, await code(secret, 1));
    expect(approved.status).toBe(200);
    expect(approved.body.status.phase).toBe('Active');
    expect(await canGetPods('alice', ns)).toBe(true);
    const verified = (await auditEvents(server)).find(
      (e) => e.action === 'MfaVerified' && e.requestId === id,
    );
    expect(verified).toMatchObject({ actor: 'bob', details: { for: 'approval under policy approvers-mfa' } });

    // An extension decided by the same policy asks its approver for a code too.
    const extend = await server.as('alice').post(`/api/v1/accessrequests/${id}/extend`, { by: '5m' });
    expect(extend.status).toBe(200);
    const carolSecret = await enrol('carol');
    const approveExtension = `/api/v1/accessrequests/${id}/extension/approve`;
    const bareExtension = await post('carol', approveExtension, {});
    expect(bareExtension.status).toBe(403);
    expect(bareExtension.body.type).toBe('https://elevate.dev/problems/otp-required');
    const extended = await post('carol', approveExtension, {}, await code(carolSecret, 1));
    expect(extended.status).toBe(200);
    expect(extended.body.status.extensions).toMatchObject([{ state: 'Approved' }]);
  });

  it('five wrong codes lock the user out even with a good code; an admin reset is audited and starts over', async () => {
    const secret = await enrol('dave');
    for (let i = 0; i < 4; i++) {
      const wrong = await viewRequest('dave', 'mreq', '000000');
      expect(wrong.res.status).toBe(403);
      expect(wrong.res.body.type).toBe('https://elevate.dev/problems/otp-invalid');
    }
    const fifth = await viewRequest('dave', 'mreq', '000000');
    expect(fifth.res.body).toMatchObject({
      type: 'https://elevate.dev/problems/otp-locked',
      detail: expect.stringMatching(/locked until/),
    });
    const good = await viewRequest('dave', 'mreq', await code(secret, 1));
    expect(good.res.status).toBe(403);
    expect(good.res.body.type).toBe('https://elevate.dev/problems/otp-locked');
    expect(await canGetPods('dave', good.ns)).toBe(false);
    const status = await server.as('dave').get('/api/v1/mfa');
    expect(status.body.lockedUntil).toEqual(expect.any(String));

    const byDave = await server.as('dave').raw('/api/v1/mfa/users/dave', { method: 'DELETE' });
    expect(byDave.status).toBe(403);
    const reset = await server.as('root').raw('/api/v1/mfa/users/dave', { method: 'DELETE' });
    expect(reset.status).toBe(204);
    expect((await server.as('dave').get('/api/v1/mfa')).body).toEqual({
      user: 'dave',
      enrolled: false,
      confirmed: false,
      lockedUntil: null,
    });
    const again = await server.as('root').raw('/api/v1/mfa/users/dave', { method: 'DELETE' });
    expect(again.status).toBe(404);

    expect(await mfaEvents('dave')).toEqual([
      ['MfaEnrolled', null],
      ['MfaVerified', null],
      ['MfaConfirmed', null],
      ...Array(5).fill(['MfaFailed', 'wrong-code']),
      ['MfaLocked', null],
      ['MfaFailed', 'locked'],
      ['MfaReset', null],
    ]);
    const resetEvent = (await auditEvents(server)).find((e) => e.action === 'MfaReset');
    expect(resetEvent).toMatchObject({ actor: 'root', details: { user: 'dave' } });
  });

  it('the audit export holds neither a secret nor a code', async () => {
    const jsonl = (await server.as('root').get('/api/v1/audit/export?format=jsonl')).body as string;
    expect(secrets.length).toBeGreaterThan(0);
    for (const s of secrets) expect(jsonl).not.toContain(s);
    // As a JSON value: a run of six digits may well occur inside a hash.
    for (const c of codes) expect(jsonl).not.toContain(`"${c}"`);
    expect(jsonl).not.toContain('"000000"');
  });
});

describe('without a usable secrets.keyFile', () => {
  it('a key file too short to be a key stops the start, naming secrets.keyFile', async () => {
    const short = join(keyDir, 'short.key');
    writeFileSync(short, 'not a key\n');
    await expect(
      startPolicyElevate({
        clusters: { dev: elevateKubeconfig('dev') },
        policyText: policyText.replace(keyFile, short),
      }),
    ).rejects.toThrow(/secrets\.keyFile: expected 32 random bytes/);
  });

  it('with none, MFA answers 409 and a policy requiring it refuses its requests, saying why', async () => {
    const plain = await startPolicyElevate({
      clusters: { dev: elevateKubeconfig('dev') },
      policyText: policyText.replace(/secrets:\n.*\n/, ''),
    });
    try {
      const enrolled = await plain.as('alice').post('/api/v1/mfa/enroll');
      expect(enrolled.status).toBe(409);
      expect(enrolled.body.detail).toBe(
        'MFA is not configured on this server: set secrets.keyFile in its config',
      );
      expect((await plain.as('alice').get('/api/v1/mfa')).status).toBe(409);
      const ns = uniqueName('mreq');
      await createNamespace(kubeconfig, ns);
      const refused = await plain
        .as('alice')
        .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '10m' }));
      expect(refused.status).toBe(409);
      expect(refused.body.detail).toMatch(
        /^request under policy prod-view-mfa requires a one-time code, but MFA is not configured/,
      );
    } finally {
      await plain.stop();
    }
  });
});

describe('break-glass with breakglass.requireMfa', () => {
  it('takes a fresh one-time code to pull the glass', async () => {
    const secret = await enrol('dave');
    const body = { profile: 'glass', reason: 'prod is down' };
    const without = await post('dave', '/api/v1/breakglass', body);
    expect(without.status).toBe(403);
    expect(without.body.type).toMatch(/otp-required$/);
    const pulled = await post('dave', '/api/v1/breakglass', body, await code(secret, 1));
    expect(pulled.status).toBe(201);
    expect(pulled.body.status.phase).toBe('Active');
    expect(await canI(kubeconfig, { user: 'dave', verb: 'get', resource: 'pods', namespace: glassNs })).toBe(
      true,
    );
    await server.as('dave').post(`/api/v1/accessrequests/${pulled.body.metadata.name}/revoke`, {});
  });
});
