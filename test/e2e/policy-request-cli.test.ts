import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elevateCli, repo } from '../support/cli.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';
import { type PolicyServer, startPolicyElevate } from '../support/policy-config.js';

/** `elevate request --profile`, `--dry-run` and refusals through the built CLI, against a running server. */
let server: PolicyServer;
let elevate: ReturnType<typeof elevateCli>;
const nsDev = uniqueName('clip');
const nsDev2 = uniqueName('clip');

const policyText = `
profiles:
  - name: oncall-cli
    description: read both clusters
    targets:
      - { cluster: dev, namespace: ${nsDev}, role: view }
      - { cluster: dev2, namespace: ${nsDev2}, role: view }
policies:
  - name: no-edit
    priority: 10
    match: { groups: [devs], roles: [edit] }
    decision: deny
    message: edit is not handed out here
  - name: oncall-cli
    match: { groups: [devs], profiles: [oncall-cli] }
    decision: auto
    defaultDuration: 15m
`;

beforeAll(async () => {
  expect(existsSync(join(repo, 'dist/cli/main.js')), 'run `make build` first').toBe(true);
  await Promise.all([
    createNamespace(testKubeconfig('dev'), nsDev),
    createNamespace(testKubeconfig('dev2'), nsDev2),
  ]);
  server = await startPolicyElevate({
    clusters: { dev: elevateKubeconfig('dev'), dev2: elevateKubeconfig('dev2') },
    policyText,
  });
  elevate = elevateCli(server.url);
});

afterAll(async () => {
  await server?.stop();
});

const src = (i: number) => `${server.configFile} policies[${i}]`;
/** A policy's source as a regular expression, for lines matched with a pattern. */
const srcRe = (i: number) => src(i).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const canRead = (cluster: string, namespace: string) =>
  canI(testKubeconfig(cluster), { user: 'alice', verb: 'get', resource: 'pods', namespace });

describe('elevate request with policies', () => {
  it('--profile --dry-run prints the decision with its trace and creates nothing; --profile then grants both clusters', async () => {
    const dry = await elevate(
      'alice',
      'request',
      '--profile',
      'oncall-cli',
      '--reason',
      'on call',
      '--dry-run',
    );
    expect(dry.code, dry.stderr).toBe(0);
    const lines = dry.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^accessrequest\/ar-\S+ would be Approved \(dry run\)$/);
    expect(lines.slice(1)).toEqual([
      `auto by policy oncall-cli (${src(1)})`,
      `  ✗ policy no-edit (${src(0)}): roles — role view is not one of [edit] [ClusterRole view in namespace ${nsDev} on cluster dev]`,
      `  ✓ policy oncall-cli (${src(1)}): matched`,
    ]);
    expect((await server.as('root').get('/api/v1/accessrequests')).body.items).toEqual([]);
    expect(await canRead('dev', nsDev)).toBe(false);

    const made = await elevate('alice', 'request', '--profile', 'oncall-cli', '--reason', 'on call');
    expect(made.code, made.stderr).toBe(0);
    const id = /^accessrequest\/(ar-\S+) Active: /.exec(made.stdout)?.[1];
    expect(id, made.stdout).toBeTruthy();
    await waitFor(async () => (await canRead('dev', nsDev)) && (await canRead('dev2', nsDev2)));

    const got = await elevate('alice', 'get', id as string);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toMatch(/^Profile: +oncall-cli$/m);
    expect(got.stdout).toMatch(/^Duration: +15m$/m);
    expect(got.stdout).toMatch(new RegExp(`^Decision: +auto by policy oncall-cli \\(${srcRe(1)}\\)$`, 'm'));
    expect(got.stdout).toMatch(new RegExp(`^ +✓ policy oncall-cli \\(${srcRe(1)}\\): matched$`, 'm'));
    expect(got.stdout).toMatch(new RegExp(`^Binding: +RoleBinding ${nsDev}/elevate-${id} on dev$`, 'm'));
    expect(got.stdout).toMatch(new RegExp(`^Binding: +RoleBinding ${nsDev2}/elevate-${id}-1 on dev2$`, 'm'));

    expect((await elevate('alice', 'revoke', id as string)).code).toBe(0);
    await waitFor(async () => !(await canRead('dev', nsDev)) && !(await canRead('dev2', nsDev2)));
  });

  it('a refused request prints the decision and where the attempt is recorded; get shows it Denied', async () => {
    const refused = await elevate(
      'alice',
      'request',
      '--cluster',
      'dev',
      '--role',
      'edit',
      '--namespace',
      nsDev,
      '--duration',
      '10m',
      '--reason',
      'just once',
    );
    expect(refused.code).toBe(1);
    const lines = refused.stderr.trim().split('\n');
    expect(lines.slice(0, 4)).toEqual([
      'error: edit is not handed out here',
      `refused by policy no-edit (${src(0)})`,
      `  ✓ policy no-edit (${src(0)}): matched`,
      '  refused (policy): edit is not handed out here',
    ]);
    const id = /^recorded as accessrequest\/(ar-\S+) \(Denied\) \(HTTP 403\)$/.exec(lines[4] ?? '')?.[1];
    expect(id, refused.stderr).toBeTruthy();
    expect(lines).toHaveLength(5);

    const got = await elevate('root', 'get', id as string);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toMatch(/^Phase: +Denied$/m);
    expect(got.stdout).toMatch(/^Message: +edit is not handed out here$/m);
    expect(got.stdout).toMatch(new RegExp(`^Decision: +refused by policy no-edit \\(${srcRe(0)}\\)$`, 'm'));
    expect(got.stdout).toMatch(/^ +refused \(policy\): edit is not handed out here$/m);
  });
});
