import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiTokenDigest } from '../../src/services/api-token-service.js';
import { repo, run } from '../support/cli.js';
import { apiFor, auditEvents, type RunningElevate, requestBody, startElevate } from '../support/elevate.js';
import { canI, createNamespace, elevateKubeconfig, testKubeconfig, uniqueName } from '../support/kube.js';

/**
 * API tokens for integrations against a whole server on the shared test cluster: created by an admin, used as
 * token:NAME (in policies like any user, with a real binding in the cluster), listed, revoked and expired.
 */

let server: RunningElevate;
let dir: string;

beforeAll(async () => {
  server = await startElevate({
    clusters: { dev: elevateKubeconfig('dev') },
    // The token's own policy names it as a user, as a policy names a person.
    extra: `  - name: ci-may-view
    match: { users: ['token:ci-*'], roles: [view] }
    decision: auto
    maxDuration: 1h
`,
  });
  dir = join(server.configFile, '..');
});

afterAll(async () => {
  await server?.stop();
});

const root = () => server.as('root');

describe('API tokens', () => {
  it('an admin creates one; it proves token:NAME with its groups, and is granted like a user', async () => {
    const created = await root().post('/api/v1/apitokens', { name: 'ci-deploy', groups: ['deployers'] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'ci-deploy',
      user: 'token:ci-deploy',
      groups: ['deployers'],
      createdBy: 'root',
      lastUsedAt: null,
      revokedAt: null,
    });
    const token: string = created.body.token;
    expect(token).toMatch(/^elv_[A-Za-z0-9_-]{43}$/);
    // 90 days unless told otherwise.
    const lifetime = Date.parse(created.body.expiresAt) - Date.parse(created.body.createdAt);
    expect(lifetime).toBe(90 * 24 * 3_600_000);

    const ci = apiFor(server.url, token);
    expect((await ci.get('/api/v1/whoami')).body).toEqual({
      user: 'token:ci-deploy',
      groups: ['deployers'],
      admin: false,
      source: { kind: 'api-token', name: 'ci-deploy' },
    });

    const ns = uniqueName('apitoken');
    await createNamespace(testKubeconfig('dev'), ns);
    const granted = await ci.post(
      '/api/v1/accessrequests',
      requestBody({ role: 'view', namespace: ns, duration: '10m' }),
    );
    expect(granted.body.status?.phase, JSON.stringify(granted.body)).toBe('Active');
    expect(granted.body.spec.requester).toBe('token:ci-deploy');
    expect(granted.body.spec.subjects).toEqual({ dev: { kind: 'User', name: 'token:ci-deploy' } });
    expect(
      await canI(testKubeconfig('dev'), {
        user: 'token:ci-deploy',
        verb: 'list',
        resource: 'pods',
        namespace: ns,
      }),
    ).toBe(true);

    const listed = await root().get('/api/v1/apitokens');
    expect(listed.status).toBe(200);
    const row = listed.body.items.find((t: { name: string }) => t.name === 'ci-deploy');
    expect(row.lastUsedAt).not.toBeNull();
    expect(JSON.stringify(listed.body)).not.toContain(token);
    expect(JSON.stringify(listed.body)).not.toContain(apiTokenDigest(token));
  });

  it('only admins create, list and revoke tokens', async () => {
    const alice = server.as('alice');
    const tries = [
      await alice.post('/api/v1/apitokens', { name: 'mine' }),
      await alice.get('/api/v1/apitokens'),
      await alice.raw('/api/v1/apitokens/ci-deploy', { method: 'DELETE' }),
    ];
    for (const res of tries) {
      expect(res.status).toBe(403);
      expect(res.contentType).toContain('application/problem+json');
      expect(res.body.detail).toMatch(/alice may not \w+ API tokens \(auth.admins only\)/);
    }
    const names = (await root().get('/api/v1/apitokens')).body.items.map((t: { name: string }) => t.name);
    expect(names).not.toContain('mine');
  });

  it('refuses bad input with a problem naming the field, and a name used before with 409', async () => {
    const bad = [
      [{ name: 'Not_A_Label' }, 'name'],
      [{ name: 'x', expires: '367d' }, 'expires'],
      [{ name: 'x', expires: '30m' }, 'expires'],
      [{ name: 'x', groups: ['  '] }, 'groups.0'],
      [{ name: 'x', token: 'elv_chosen' }, undefined],
    ] as const;
    for (const [body, field] of bad) {
      const res = await root().post('/api/v1/apitokens', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      if (field) expect(res.body.field).toBe(field);
    }
    const again = await root().post('/api/v1/apitokens', { name: 'ci-deploy' });
    expect(again.status).toBe(409);
    expect(again.body.detail).toMatch(/ci-deploy exists or existed/);
    const unknown = await root().raw('/api/v1/apitokens/nobody', { method: 'DELETE' });
    expect(unknown.status).toBe(404);
  });

  it('a revoked token is refused at its very next use', async () => {
    const { token } = (await root().post('/api/v1/apitokens', { name: 'chatbot', expires: 'never' })).body;
    const bot = apiFor(server.url, token);
    expect((await bot.get('/api/v1/whoami')).status).toBe(200);
    const revoked = await root().raw('/api/v1/apitokens/chatbot', { method: 'DELETE' });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ name: 'chatbot', revokedBy: 'root', expiresAt: null });
    const refused = await bot.get('/api/v1/whoami');
    expect(refused.status).toBe(401);
    expect(refused.contentType).toContain('application/problem+json');
    expect(refused.body.detail).toBe('the API token chatbot was revoked');
  });

  it('an expired token is refused, saying when it expired', async () => {
    const { token } = (await root().post('/api/v1/apitokens', { name: 'old', expires: '1h' })).body;
    // An hour is not waited for: the row is moved into the past behind the server's back.
    const db = new SqliteDatabase(join(dir, 'elevate.db'));
    db.prepare("update api_tokens set expires_at = '2026-01-01T00:00:00.000Z' where name = 'old'").run();
    db.close();
    const res = await apiFor(server.url, token).get('/api/v1/whoami');
    expect(res.status).toBe(401);
    expect(res.body.detail).toBe('the API token old expired at 2026-01-01T00:00:00.000Z');
  });

  it('audits creation, first use and revocation, and never the token or its digest', async () => {
    const { token } = (await root().post('/api/v1/apitokens', { name: 'audited', groups: ['g'] })).body;
    await apiFor(server.url, token).get('/api/v1/whoami');
    await apiFor(server.url, token).get('/api/v1/whoami');
    await root().raw('/api/v1/apitokens/audited', { method: 'DELETE' });
    const events = (await auditEvents(server)).filter((e) => e.details?.name === 'audited');
    expect(events.map((e) => [e.action, e.actor])).toEqual([
      ['ApiTokenCreated', 'root'],
      ['ApiTokenFirstUsed', 'token:audited'],
      ['ApiTokenRevoked', 'root'],
    ]);
    const csv = (await root().get('/api/v1/audit/export?format=csv')).body as string;
    const jsonl = (await root().get('/api/v1/audit/export?format=jsonl')).body as string;
    for (const trail of [csv, jsonl]) {
      expect(trail).not.toContain(token);
      expect(trail).not.toContain(apiTokenDigest(token));
      expect(trail).not.toMatch(/elv_[A-Za-z0-9_-]{43}/);
    }
  });

  it('elevate token create/list/revoke through the CLI', async () => {
    const cli = (...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', join(repo, 'src/cli/main.ts'), ...args], {
        ELEVATE_SERVER: server.url,
        ELEVATE_TOKEN: 'token-root',
      });
    const created = await cli('token', 'create', '--name', 'ci-cli', '--groups', 'a,b', '--expires', '30d');
    expect(created.code, created.stderr).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^elv_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(/apitoken\/ci-cli created: token:ci-cli, groups a,b, expires \S+Z/);
    expect((await apiFor(server.url, token).get('/api/v1/whoami')).body.user).toBe('token:ci-cli');

    const listed = await cli('token', 'list');
    expect(listed.stdout).toMatch(/^NAME\s+GROUPS\s+CREATED\s+EXPIRES\s+LAST USED\s+STATE$/m);
    expect(listed.stdout).toMatch(/^ci-cli\s+a,b\s+\S+\s+\S+\s+\d{4}-\S+\s+active$/m);
    expect(listed.stdout).not.toContain(token);

    const revoked = await cli('token', 'revoke', 'ci-cli');
    expect(revoked.stdout).toMatch(/^apitoken\/ci-cli revoked at \S+ by root$/m);
    expect((await apiFor(server.url, token).get('/api/v1/whoami')).status).toBe(401);
    expect((await cli('token', 'list')).stdout).toMatch(/^ci-cli\s.*revoked$/m);

    const bad = await cli('token', 'create', '--name', 'x', '--expires', '2y');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/no token lifetime/);
  });
});
