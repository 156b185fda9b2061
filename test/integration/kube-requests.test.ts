import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, type RunningElevate, startElevate } from '../support/elevate.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  sharedCluster,
  testKubeconfig,
  uniqueName,
  userKubeconfig,
  waitFor,
} from '../support/kube.js';
import { applyHomeManifests, kubectlWith, letPeopleAsk } from '../support/kubectl.js';

const as: Record<string, string> = {};
const kubectl = (who: string, args: string[], yaml?: string) => kubectlWith(as[who] as string, args, yaml);

/** The object's status as the API server holds it. */
async function statusOf(kind: string, name: string): Promise<Record<string, unknown>> {
  const res = await kubectl('admin', ['get', kind, name, '-n', 'elevate', '-o', 'json']);
  return res.code === 0 ? (JSON.parse(res.out).status ?? {}) : {};
}

describe('AccessRequest and AccessApproval objects made with kubectl', () => {
  let server: RunningElevate;
  let ns: string;

  beforeAll(async () => {
    await applyHomeManifests('dev');
    as.admin = testKubeconfig('dev');
    for (const [user, group] of [
      ['alice', 'devs'],
      ['bob', 'sre-leads'],
      ['carol', 'sre-leads'],
    ] as const)
      as[user] = await userKubeconfig(sharedCluster('dev'), user, [group]);
    await letPeopleAsk('dev');
    ns = uniqueName('kreq');
    await createNamespace(testKubeconfig('dev'), ns);
    server = await startElevate({
      clusters: { dev: elevateKubeconfig('dev') },
      extra: 'home: { cluster: dev }\n',
    });
    // Each has signed in to Elevate once: their groups are what the policies judge.
    for (const p of ['alice', 'bob', 'carol'] as const)
      expect((await server.as(p).get('/api/v1/whoami')).status).toBe(200);
  });
  afterAll(() => server?.stop());

  it('alice asks with kubectl, bob and carol approve with kubectl, and her access works; deleting the object ends it', async () => {
    const name = uniqueName('edit');
    const created = await kubectl(
      'alice',
      ['create'],
      `apiVersion: elevate.dev/v1
kind: AccessRequest
metadata: { name: ${name}, namespace: elevate }
spec: { requester: alice, cluster: dev, role: edit, namespace: ${ns}, duration: 30m, reason: INC-7 payments down }
`,
    );
    expect(created.code, created.out).toBe(0);
    const pending = await waitFor(async () => {
      const s = await statusOf('accessrequest', name);
      return s.phase === 'Pending' ? s : null;
    });
    expect(pending.policy).toBe('edit-needs-two');
    expect(pending.conditions).toEqual([
      expect.objectContaining({ type: 'Approved', status: 'Unknown', reason: 'Pending' }),
      expect.objectContaining({ type: 'Active', status: 'False', reason: 'Pending' }),
    ]);
    const id = pending.request as string;
    for (const approver of ['bob', 'carol']) {
      const res = await kubectl(
        approver,
        ['create'],
        `apiVersion: elevate.dev/v1
kind: AccessApproval
metadata: { name: ${name}-${approver}, namespace: elevate }
spec: { request: ${name}, approver: ${approver}, decision: Approve, comment: seen the incident }
`,
      );
      expect(res.code, res.out).toBe(0);
      const applied = await waitFor(async () => {
        const s = await statusOf('accessapproval', `${name}-${approver}`);
        return s.phase ? s : null;
      });
      expect(applied).toMatchObject({ phase: 'Applied', request: id });
      expect(applied.conditions).toEqual([expect.objectContaining({ type: 'Applied', status: 'True' })]);
    }
    // What a GitOps pipeline or a script waits on: the condition, not a poll of the phase.
    const waited = await kubectl('alice', [
      'wait',
      '--for=condition=Active',
      `accessrequest/${name}`,
      '-n',
      'elevate',
      '--timeout=20s',
    ]);
    expect(waited.code, waited.out).toBe(0);
    const active = await waitFor(
      async () => {
        const s = await statusOf('accessrequest', name);
        return s.phase === 'Active' ? s : null;
      },
      { timeoutMs: 20_000 },
    );
    expect(active.expiresAt).toBeTruthy();
    const [approved, granted] = active.conditions as [Record<string, unknown>, Record<string, unknown>];
    expect(approved).toMatchObject({ type: 'Approved', status: 'True', observedGeneration: 1 });
    expect(granted).toMatchObject({ type: 'Active', status: 'True', reason: 'Active' });
    // The time a condition turned, not the time of the last write.
    expect(Date.parse(granted.lastTransitionTime as string)).toBeGreaterThanOrEqual(
      Date.parse((pending.conditions as [unknown, { lastTransitionTime: string }])[1].lastTransitionTime),
    );
    expect((active.approvals as { user: string }[]).map((a) => a.user)).toEqual(['bob', 'carol']);
    const question = {
      user: 'alice',
      groups: ['devs'],
      verb: 'create',
      resource: 'configmaps',
      namespace: ns,
    };
    expect(await canI(testKubeconfig('dev'), question)).toBe(true);
    const trail = (await auditEvents(server)).filter(
      (e) => e.requestId === id && e.action === 'ApprovalRecorded',
    );
    expect(trail.map((e) => [e.actor, e.details.via])).toEqual([
      ['bob', 'kubernetes'],
      ['carol', 'kubernetes'],
    ]);
    // The same object seen again (a restart, a resync) makes no second request.
    const all = (await server.as('root').get('/api/v1/accessrequests')).body.items.filter(
      (r: { spec: { reason: string }; metadata: { name: string } }) => r.metadata.name === id,
    );
    expect(all).toHaveLength(1);
    expect((await kubectl('alice', ['delete', 'accessrequest', name, '-n', 'elevate'])).code).toBe(0);
    await waitFor(async () => !(await canI(testKubeconfig('dev'), question)), { timeoutMs: 20_000 });
    const ended = (await server.as('root').get(`/api/v1/accessrequests/${id}`)).body;
    expect(ended.status.phase).toBe('Revoked');
  });

  it('an approval the requester gives herself is refused in its status, and changes nothing', async () => {
    const name = uniqueName('edit');
    expect(
      (
        await kubectl(
          'alice',
          ['create'],
          `apiVersion: elevate.dev/v1
kind: AccessRequest
metadata: { name: ${name}, namespace: elevate }
spec: { requester: alice, cluster: dev, role: edit, namespace: ${ns}, duration: 30m, reason: INC-8 }
`,
        )
      ).code,
    ).toBe(0);
    await waitFor(async () => (await statusOf('accessrequest', name)).phase === 'Pending');
    const res = await kubectl(
      'alice',
      ['create'],
      `apiVersion: elevate.dev/v1
kind: AccessApproval
metadata: { name: ${name}-self, namespace: elevate }
spec: { request: ${name}, approver: alice, decision: Approve }
`,
    );
    expect(res.code, res.out).toBe(0);
    const refused = await waitFor(async () => {
      const s = await statusOf('accessapproval', `${name}-self`);
      return s.phase ? s : null;
    });
    expect(refused).toMatchObject({
      phase: 'Refused',
      message: expect.stringMatching(/requester cannot approve/),
      conditions: [expect.objectContaining({ type: 'Applied', status: 'False', reason: 'Refused' })],
    });
    expect((await statusOf('accessrequest', name)).phase).toBe('Pending');
    await kubectl('alice', ['delete', 'accessrequest', name, '-n', 'elevate']);
  });
});
