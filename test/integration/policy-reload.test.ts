import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { auditEvents, requestBody } from '../support/elevate.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';
import { type PolicyServer, policyConfigText, startPolicyElevate } from '../support/policy-config.js';

const policy = (decision: string) => `
policies:
  - name: reloadable-view
    match: { groups: [devs], namespaces: ['rl-*'], roles: [view] }
${decision}
`;
const auto = policy('    decision: auto');
const approval = policy(
  '    decision: approval\n    approval: { approvers: { users: [bob] }, required: 1, timeout: 1h }',
);
const denied = policy('    decision: deny\n    message: the rl namespaces are closed for the audit');

let server: PolicyServer;
let kubeconfig: string;
let clusters: Record<string, string>;

beforeAll(async () => {
  kubeconfig = testKubeconfig('dev');
  clusters = { dev: elevateKubeconfig('dev') };
  server = await startPolicyElevate({ clusters, policyText: auto });
});

afterAll(async () => {
  await server?.stop();
});

async function newNamespace(): Promise<string> {
  const ns = uniqueName('rl');
  await createNamespace(kubeconfig, ns);
  return ns;
}

const ask = (namespace: string) =>
  server
    .as('alice')
    .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace, duration: '10m' }));

const digestOf = (text: string) => parseConfig(text, server.configFile).policySet.digest;

async function reloads(): Promise<
  { digest: string; previousDigest: string; policies: number; file: string }[]
> {
  return (await auditEvents(server))
    .filter((e) => e.action === 'PolicyReloaded')
    .map((e) => {
      expect(e).toMatchObject({ actor: 'system:elevate', requestId: null });
      return e.details;
    });
}

describe('a config reload', () => {
  it('changes the next decision without a restart, audited with the new digest; an invalid edit keeps the set; requests made keep their decision', async () => {
    const autoText = policyConfigText({ clusters, policyText: auto });
    const approvalText = policyConfigText({ clusters, policyText: approval });
    const deniedText = policyConfigText({ clusters, policyText: denied });

    const [ns1, ns2, ns3, ns4] = (await Promise.all([1, 2, 3, 4].map(() => newNamespace()))) as [
      string,
      string,
      string,
      string,
    ];
    const first = await ask(ns1);
    expect(first.body.status).toMatchObject({ phase: 'Active', policy: 'reloadable-view' });
    expect(first.body.status.decision.outcome).toBe('auto');
    expect(await reloads()).toEqual([]);

    // Now it needs bob's approval.
    server.replaceConfig(approvalText);
    await waitFor(async () => (await reloads()).length === 1);
    expect(await reloads()).toEqual([
      {
        file: server.configFile,
        digest: digestOf(approvalText),
        previousDigest: digestOf(autoText),
        policies: 1,
        profiles: 0,
      },
    ]);
    const second = await ask(ns2);
    expect(second.status).toBe(201);
    expect(second.body.status).toMatchObject({ phase: 'Pending', requiredApprovals: 1 });
    expect(second.body.status.decision.outcome).toBe('approval');

    // The request made before keeps its decision and its access.
    const kept = (await server.as('root').get(`/api/v1/accessrequests/${first.body.metadata.name}`)).body;
    expect(kept.status.phase).toBe('Active');
    expect(kept.status.decision).toEqual(first.body.status.decision);
    expect(await canI(kubeconfig, { user: 'alice', verb: 'get', resource: 'pods', namespace: ns1 })).toBe(
      true,
    );

    // An edit that does not validate changes nothing.
    server.replaceConfig(approvalText.replace('decision: approval', 'decision: maybe'));
    await new Promise((r) => setTimeout(r, 1500));
    expect(await reloads()).toHaveLength(1);
    const third = await ask(ns3);
    expect(third.body.status).toMatchObject({ phase: 'Pending' });
    expect(third.body.status.decision.outcome).toBe('approval');

    // Then a valid one that denies.
    server.replaceConfig(deniedText);
    await waitFor(async () => (await reloads()).length === 2);
    expect((await reloads())[1]).toMatchObject({
      digest: digestOf(deniedText),
      previousDigest: digestOf(approvalText),
    });
    const fourth = await ask(ns4);
    expect(fourth.status).toBe(403);
    expect(fourth.body.detail).toBe('the rl namespaces are closed for the audit');

    // The pending request was made under the approval policy: bob may still approve it, and it is granted.
    const approved = await server
      .as('bob')
      .post(`/api/v1/accessrequests/${second.body.metadata.name}/approve`, {});
    expect(approved.status).toBe(200);
    expect(approved.body.status.phase).toBe('Active');
    expect(approved.body.status.decision.outcome).toBe('approval');
    await waitFor(() => canI(kubeconfig, { user: 'alice', verb: 'get', resource: 'pods', namespace: ns2 }));
  });
});

describe('guardrails reloaded while a request waits', () => {
  it('are the ones judged at activation: a role forbidden since the request was made is not bound', async () => {
    const approvalText = policyConfigText({ clusters, policyText: approval });
    const count = (await reloads()).length;
    server.replaceConfig(approvalText);
    await waitFor(async () => (await reloads()).length === count + 1);
    const ns = await newNamespace();
    const pending = await ask(ns);
    expect(pending.body.status.phase).toBe('Pending');
    const id: string = pending.body.metadata.name;

    server.replaceConfig(
      policyConfigText({ clusters, policyText: `guardrails:\n  forbiddenRoles: [view]\n${approval}` }),
    );
    await waitFor(async () => (await reloads()).length === count + 2);
    const approved = await server.as('bob').post(`/api/v1/accessrequests/${id}/approve`, {});
    expect(approved.status).toBe(200);
    expect(approved.body.status).toMatchObject({
      phase: 'Denied',
      message: 'refused at activation: role view is forbidden by guardrails.forbiddenRoles',
      grant: null,
    });
    const events = (await auditEvents(server)).filter((e) => e.requestId === id).map((e) => e.action);
    expect(events).toEqual(['RequestCreated', 'ApprovalRecorded', 'RequestApproved', 'ActivationRefused']);
    expect(await canI(kubeconfig, { user: 'alice', verb: 'get', resource: 'pods', namespace: ns })).toBe(
      false,
    );
  });
});
