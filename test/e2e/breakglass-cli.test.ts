import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elevateCli, repo } from '../support/cli.js';
import { canI, createNamespace, elevateKubeconfig, testKubeconfig, uniqueName } from '../support/kube.js';
import { type PolicyServer, startPolicyElevate } from '../support/policy-config.js';

/** `elevate breakglass`, `breakglass mode` and `review` through the built CLI, against a running server. */
let server: PolicyServer;
let elevate: ReturnType<typeof elevateCli>;
const ns = uniqueName('bgcli');

beforeAll(async () => {
  expect(existsSync(join(repo, 'dist/cli/main.js')), 'run `make build` first').toBe(true);
  await createNamespace(testKubeconfig('dev'), ns);
  server = await startPolicyElevate({
    clusters: { dev: elevateKubeconfig('dev') },
    policyText: `
profiles:
  - name: prod-debug
    targets: [{ cluster: dev, namespace: ${ns}, role: view }]
breakglass:
  roster: { groups: [sre-leads] }
  profiles: [prod-debug]
  maxDuration: 30m
  reviewers: { users: [carol] }
`,
  });
  elevate = elevateCli(server.url);
});

afterAll(async () => {
  await server?.stop();
});

describe('elevate breakglass and review', () => {
  it('pulls the glass, shows the review as open, and completes it', async () => {
    const pulled = await elevate('bob', 'breakglass', '--profile', 'prod-debug', '--reason', 'db on fire');
    expect(pulled.code, pulled.stderr).toBe(0);
    const id = /^accessrequest\/(ar-\S+) Active: /.exec(pulled.stdout)?.[1];
    expect(id, pulled.stdout).toBeTruthy();
    const reviewId = /review\/(rv-\S+) opened/.exec(pulled.stderr)?.[1];
    expect(reviewId, pulled.stderr).toBeTruthy();
    expect(
      await canI(testKubeconfig('dev'), { user: 'bob', verb: 'get', resource: 'pods', namespace: ns }),
    ).toBe(true);

    const refused = await elevate('mallory', 'breakglass', '--profile', 'prod-debug', '--reason', 'x');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('mallory is not on the break-glass roster');

    const list = await elevate('carol', 'review', 'list', '--state', 'open');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${reviewId}\\s+${id}\\s+bob\\s+breakglass\\s+open`));

    const show = await elevate('carol', 'review', 'show', reviewId as string);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(`review/${reviewId} of bob's breakglass access: open`);
    expect(show.stdout).toMatch(/BreakGlassActivated\s+bob/);

    const own = await elevate(
      'bob',
      'review',
      'complete',
      reviewId as string,
      '--outcome',
      'justified',
      '--notes',
      'me',
    );
    expect(own.code).toBe(1);
    const done = await elevate(
      'carol',
      'review',
      'complete',
      reviewId as string,
      '--outcome',
      'justified',
      '--notes',
      'incident INC42 confirmed',
    );
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toBe(`review/${reviewId} completed: justified by carol\n`);
    await elevate('bob', 'revoke', id as string);
  });

  it('switches ticket-system-down mode on and off (admins)', async () => {
    const denied = await elevate('bob', 'breakglass', 'mode', 'on', '--for', '1h', '--reason', 'snow down');
    expect(denied.code).toBe(1);
    const on = await elevate('root', 'breakglass', 'mode', 'on', '--for', '1h', '--reason', 'snow down');
    expect(on.code, on.stderr).toBe(0);
    expect(on.stdout).toMatch(/ticket-system-down mode is ON until \S+ \(since \S+, by root: snow down\)/);
    const status = await elevate('alice', 'breakglass', 'mode', 'status', '-o', 'json');
    expect(JSON.parse(status.stdout)).toMatchObject({ on: true, inForce: true, by: 'root' });
    const off = await elevate('root', 'breakglass', 'mode', 'off');
    expect(off.stdout).toContain('ticket-system-down mode is off');
  });
});
