import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, type RunningElevate, requestBody, startElevate } from '../support/elevate.js';
import { createNamespace, elevateKubeconfig, testKubeconfig, uniqueName, waitFor } from '../support/kube.js';
import { applyHomeManifests, kubectlWith } from '../support/kubectl.js';

const admin = () => testKubeconfig('dev');
const apply = (yaml: string) => kubectlWith(admin(), ['apply'], yaml);

const accessPolicy = (name: string, spec: string) =>
  `apiVersion: elevate.dev/v1\nkind: AccessPolicy\nmetadata: { name: ${name} }\nspec:\n${spec}`;

/** The Accepted condition of an object as the API server holds it: [status, message]. */
async function accepted(kind: string, name: string): Promise<[string, string] | null> {
  const res = await kubectlWith(admin(), ['get', kind, name, '-o', 'json']);
  if (res.code !== 0) return null;
  const c = JSON.parse(res.out).status?.conditions?.find((x: { type: string }) => x.type === 'Accepted');
  return c ? [c.status, c.message] : null;
}

describe('policies from AccessPolicy and AccessProfile objects in the home cluster', () => {
  let server: RunningElevate;
  let ns: string;
  const mine = uniqueName('mallory-view');

  /** mallory (group contractors) has no policy in the file: her request is refused unless an object allows it. */
  const malloryAsks = () =>
    server
      .as('mallory')
      .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '10m' }));

  beforeAll(async () => {
    await applyHomeManifests('dev');
    ns = uniqueName('pol');
    await createNamespace(testKubeconfig('dev'), ns);
    // Elevate runs with its own least-privilege identity: deploy/kubernetes/elevate-home-rbac.yaml is all
    // it has in the home cluster beyond its target-cluster RBAC.
    server = await startElevate({
      clusters: { dev: elevateKubeconfig('dev') },
      extra: 'home: { cluster: dev }\n',
    });
  });
  afterAll(async () => {
    await server?.stop();
    await kubectlWith(admin(), ['delete', 'accesspolicies', '-l', 'elevate-test=policy-resources']);
  });

  it('an AccessPolicy applied with kubectl changes a decision without a restart, and says it is in force', async () => {
    expect((await malloryAsks()).status).toBe(403);
    const res = await apply(
      accessPolicy(
        mine,
        `  priority: 50\n  match: { users: [mallory], roles: [view], namespaces: [${ns}] }\n  decision: auto\n  maxDuration: 1h\n`,
      ).replace(`name: ${mine} }`, `name: ${mine}, labels: { elevate-test: policy-resources } }`),
    );
    expect(res.code, res.out).toBe(0);
    const granted = await waitFor(
      async () => {
        const r = await malloryAsks();
        return r.status === 201 ? r : null;
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    expect(granted.body.status.decision.policy).toBe(mine);
    expect(granted.body.status.phase).toBe('Active');
    expect(await waitFor(() => accepted('accesspolicy', mine))).toEqual([
      'True',
      `policy ${mine} is in force`,
    ]);
    const reloads = (await auditEvents(server)).filter(
      (e) => e.action === 'PolicyReloaded' && e.details.source === 'resources',
    );
    expect(reloads.length).toBeGreaterThan(0);
  });

  it('an invalid object is Accepted=False with the reason, and changes nothing', async () => {
    const cases = [
      [
        uniqueName('bad-cluster'),
        '  match: { clusters: [nowhere] }\n  decision: auto\n',
        /spec\.match\.clusters: unknown cluster nowhere/,
      ],
      [
        uniqueName('too-long'),
        '  decision: auto\n  maxDuration: 9999h\n',
        /spec\.maxDuration: exceeds limits\.maxDuration/,
      ],
      [
        'view-auto',
        '  decision: deny\n  message: shadowing the file\n',
        /the config file has a policy named view-auto/,
      ],
    ] as const;
    for (const [name, spec, reason] of cases) {
      const res = await apply(
        accessPolicy(name, spec).replace(
          `name: ${name} }`,
          `name: ${name}, labels: { elevate-test: policy-resources } }`,
        ),
      );
      expect(res.code, res.out).toBe(0);
      const condition = await waitFor(() => accepted('accesspolicy', name));
      expect(condition[0]).toBe('False');
      expect(condition[1]).toMatch(reason);
    }
    // alice's view request is still decided by the file's view-auto, not the refused deny of the same name.
    const alice = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '10m' }));
    expect(alice.body.status?.decision?.policy).toBe('view-auto');
  });

  it('a config file change judges the objects again against it', async () => {
    const name = uniqueName('ten-hours');
    const res = await apply(
      accessPolicy(name, '  match: { users: [nobody] }\n  decision: auto\n  maxDuration: 10h\n').replace(
        `name: ${name} }`,
        `name: ${name}, labels: { elevate-test: policy-resources } }`,
      ),
    );
    expect(res.code, res.out).toBe(0);
    expect((await waitFor(() => accepted('accesspolicy', name)))[0]).toBe('True');
    // limits.maxDuration down to 9h: the file's own policies still fit (8h at most), this object no longer.
    const text = readFileSync(server.configFile, 'utf8');
    writeFileSync(
      server.configFile,
      text.replace('limits:\n  minDuration: 1s\n', 'limits:\n  minDuration: 1s\n  maxDuration: 9h\n'),
    );
    await waitFor(async () => (await accepted('accesspolicy', name))?.[0] === 'False', {
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    expect((await accepted('accesspolicy', name))?.[1]).toMatch(/exceeds limits\.maxDuration/);
  });

  it('deleting the AccessPolicy takes it out of force', async () => {
    expect((await kubectlWith(admin(), ['delete', 'accesspolicy', mine])).code).toBe(0);
    await waitFor(async () => (await malloryAsks()).status === 403, { timeoutMs: 15_000, intervalMs: 250 });
  });
});
