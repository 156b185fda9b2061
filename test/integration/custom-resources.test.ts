import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedCluster, testKubeconfig, uniqueName, userKubeconfig, waitFor } from '../support/kube.js';
import { applyHomeManifests, kubectlWith, letPeopleAsk } from '../support/kubectl.js';

const as: Record<string, string> = {};
const run = (who: string, args: string[], yaml?: string) => kubectlWith(as[who] as string, args, yaml);

const request = (name: string, requester: string, extra = '') => `
apiVersion: elevate.dev/v1
kind: AccessRequest
metadata: { name: ${name}, namespace: elevate }
spec:
  requester: ${requester}
  cluster: dev
  role: edit
  namespace: payments
  duration: 30m
  reason: INC-1 payments down
${extra}`;

describe('the custom resources and admission policies of deploy/kubernetes/, on a real API server', () => {
  beforeAll(async () => {
    as.admin = testKubeconfig('dev');
    as.alice = await userKubeconfig(sharedCluster('dev'), 'alice', ['devs']);
    as.bob = await userKubeconfig(sharedCluster('dev'), 'bob', ['sre-leads']);
    await applyHomeManifests('dev');
    await letPeopleAsk('dev');
  }, 120_000);
  // The cluster is shared: a policy left behind would be in force for every later server with a home.
  afterAll(() => run('admin', ['delete', 'accesspolicies', '-l', 'elevate-test=crds']));

  it('an AccessPolicy in the config file’s language is accepted; what the schema can tell is wrong is refused, naming it', async () => {
    const policy = (name: string, spec: string) =>
      `apiVersion: elevate.dev/v1\nkind: AccessPolicy\nmetadata: { name: ${name}, labels: { elevate-test: crds } }\nspec:\n${spec}`;
    const good = await run(
      'admin',
      ['apply'],
      policy(
        uniqueName('payments-edit'),
        `  priority: 10
  match: { groups: [devs], clusters: [dev], namespaces: [payments], roles: [edit], when: { timezone: Europe/Berlin, days: [Mon-Fri] } }
  decision: approval
  approval: { approvers: { groups: [sre-leads] }, required: 2, timeout: 1h }
  maxDuration: 2h
  requireTicket: { pattern: '^INC-[0-9]+$' }
`,
      ),
    );
    expect(good.code, good.out).toBe(0);
    const refused = [
      [
        `  decision: approval\n  match: { groups: [devs] }\n`,
        /approval is required when decision is approval/,
      ],
      [`  decision: sometimes\n`, /Unsupported value: "sometimes"/],
      [`  decision: auto\n  match: { colour: blue }\n`, /unknown field "spec.match.colour"/],
      [`  decision: auto\n  priority: high\n`, /spec.priority.*integer/],
    ] as const;
    for (const [spec, message] of refused) {
      const res = await run('admin', ['apply'], policy(uniqueName('bad'), spec));
      expect(res.code, res.out).not.toBe(0);
      expect(res.out).toMatch(message);
    }
  });

  it('alice may ask for herself only: the API server refuses an AccessRequest naming someone else, and any change of spec', async () => {
    const mine = uniqueName('req');
    // The admission policy starts working a moment after it is created.
    await waitFor(
      async () => {
        const res = await run('alice', ['create'], request(uniqueName('probe'), 'bob'));
        return (
          res.code !== 0 &&
          /spec.requester must be the user creating the AccessRequest \(alice\)/.test(res.out)
        );
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    const created = await run('alice', ['create'], request(mine, 'alice'));
    expect(created.code, created.out).toBe(0);
    const changed = await run(
      'alice',
      ['apply'],
      request(mine, 'alice').replace('duration: 30m', 'duration: 8h'),
    );
    expect(changed.code).not.toBe(0);
    expect(changed.out).toMatch(/spec cannot change/);
    const both = await run('alice', ['create'], request(uniqueName('req'), 'alice', '  clusterWide: true\n'));
    expect(both.out).toMatch(/give a namespace or clusterWide: true, not both/);
    const listed = await run('alice', ['get', 'accessrequests', '-n', 'elevate', mine]);
    expect(listed.out).toMatch(new RegExp(`${mine}\\s+alice\\s+dev\\s+edit\\s+payments`));
  });

  it('bob approves as himself only', async () => {
    const approval = (name: string, approver: string) => `
apiVersion: elevate.dev/v1
kind: AccessApproval
metadata: { name: ${name}, namespace: elevate }
spec: { request: some-request, approver: ${approver}, decision: Approve, comment: looks right }
`;
    await waitFor(
      async () =>
        /spec.approver must be the user creating/.test(
          (await run('bob', ['create'], approval(uniqueName('a'), 'carol'))).out,
        ),
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    const own = await run('bob', ['create'], approval(uniqueName('a'), 'bob'));
    expect(own.code, own.out).toBe(0);
  });
});
