import type * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, expectCreateRefused, requestBody } from '../support/elevate.js';
import {
  canI,
  createNamespace,
  elevateKubeconfig,
  rbacApi,
  testKubeconfig,
  uniqueName,
  waitFor,
} from '../support/kube.js';
import { type PolicyServer, startPolicyElevate } from '../support/policy-config.js';

// Cluster-scoped roles are shared by the whole testenv: each run makes its own, named with this prefix.
const run = uniqueName('gr');
const secretReader = `${run}-secret-reader`;
const forbidden = `${run}-forbidden-viewer`;

const policyText = `
guardrails:
  forbiddenRoles: ['${run}-forbidden-*']
policies:
  - name: edit-not-allowed
    match: { groups: [devs], namespaces: ['gplain-*'], roles: [edit] }
    decision: auto
  - name: edit-allowed
    match: { groups: [devs], namespaces: ['gallow-*'], roles: [edit] }
    decision: auto
    allowEscalatingRoles: [edit]
  - name: secret-readers
    match: { groups: [devs], roles: ['${secretReader}'] }
    decision: auto
  - name: edited-needs-approval
    match: { groups: [devs], roles: ['${run}-edited-*'] }
    decision: approval
    approval: { approvers: { users: [bob] }, required: 1, timeout: 1h }
  - name: restored-auto
    match: { groups: [devs], roles: ['${run}-restored-*'] }
    decision: auto
  - name: dave-anything
    match: { users: [dave] }
    decision: auto
    allowEscalatingRoles: [cluster-admin, '${forbidden}', edit]
`;

let server: PolicyServer;
let kubeconfig: string;
let rbac: k8s.RbacAuthorizationV1Api;
const clusterRoles: string[] = [];

async function createClusterRole(name: string, rules: k8s.V1PolicyRule[]): Promise<void> {
  await rbac.createClusterRole({ body: { metadata: { name }, rules } });
  clusterRoles.push(name);
}

beforeAll(async () => {
  kubeconfig = testKubeconfig('dev');
  rbac = rbacApi(kubeconfig);
  await createClusterRole(secretReader, [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }]);
  await createClusterRole(forbidden, [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }]);
  server = await startPolicyElevate({ clusters: { dev: elevateKubeconfig('dev') }, policyText });
});

afterAll(async () => {
  await server?.stop();
  for (const name of clusterRoles) await rbac.deleteClusterRole({ name }).catch(() => {});
});

async function newNamespace(prefix: string): Promise<string> {
  const ns = uniqueName(prefix);
  await createNamespace(kubeconfig, ns);
  return ns;
}

const body = (spec: Record<string, unknown>) => requestBody({ duration: '10m', ...spec });

async function recorded(id: string) {
  return (await server.as('root').get(`/api/v1/accessrequests/${id}`)).body;
}

async function bindingExists(ns: string, id: string): Promise<boolean> {
  return rbac
    .readNamespacedRoleBinding({ name: `elevate-${id}`, namespace: ns })
    .then(() => true)
    .catch((e) => {
      if (e.code === 404) return false;
      throw e;
    });
}

describe('escalating roles', () => {
  it('the real edit ClusterRole is refused by a guardrail naming the rule, though a policy matches', async () => {
    const ns = await newNamespace('gplain');
    await expectCreateRefused(server, body({ role: 'edit', namespace: ns }), {
      status: 403,
      detail: new RegExp(
        `^ClusterRole edit in namespace ${ns} on cluster dev escalates: rule \\{apiGroups: \\[.*\\], resources: \\[.*\\], verbs: \\[.*\\]\\} lets the holder (impersonate serviceaccounts|create pods/exec|create pods/attach).* \\(policy edit-not-allowed does not list edit in allowEscalatingRoles\\)$`,
      ),
    });
    const denied = (await server.as('root').get('/api/v1/accessrequests')).body.items.at(-1);
    expect(denied.status.decision).toMatchObject({
      outcome: 'refused',
      policy: 'edit-not-allowed',
      refusal: { kind: 'guardrail' },
    });
    expect(denied.status.decision.trace.at(-1)).toMatchObject({
      policy: 'edit-not-allowed',
      result: 'matched',
    });
    expect(await bindingExists(ns, denied.metadata.name)).toBe(false);
  });

  it('edit is granted under a policy that lists it in allowEscalatingRoles', async () => {
    const ns = await newNamespace('gallow');
    const res = await server
      .as('alice')
      .post('/api/v1/accessrequests', body({ role: 'edit', namespace: ns }));
    expect(res.status).toBe(201);
    expect(res.body.status).toMatchObject({ phase: 'Active', policy: 'edit-allowed' });
    await waitFor(() =>
      canI(kubeconfig, {
        user: 'alice',
        verb: 'create',
        resource: 'deployments',
        group: 'apps',
        namespace: ns,
      }),
    );
  });

  it('a role reading secrets is allowed in a namespace, refused cluster-wide', async () => {
    const ns = await newNamespace('gsec');
    const namespaced = await server
      .as('alice')
      .post('/api/v1/accessrequests', body({ role: secretReader, namespace: ns }));
    expect(namespaced.status).toBe(201);
    expect(namespaced.body.status).toMatchObject({ phase: 'Active', policy: 'secret-readers' });
    await waitFor(() => canI(kubeconfig, { user: 'alice', verb: 'get', resource: 'secrets', namespace: ns }));

    await expectCreateRefused(server, body({ role: secretReader, clusterWide: true }), {
      status: 403,
      detail: new RegExp(
        `^ClusterRole ${secretReader} cluster-wide on cluster dev escalates: rule \\{apiGroups: \\[""\\], resources: \\["secrets"\\], verbs: \\["get"\\]\\} lets the holder get secrets in every namespace \\(policy secret-readers does not list ${secretReader} in allowEscalatingRoles\\)$`,
      ),
    });
    expect(
      await canI(kubeconfig, { user: 'alice', verb: 'get', resource: 'secrets', namespace: 'default' }),
    ).toBe(false);
  });

  it('cluster-admin and guardrails.forbiddenRoles are refused whatever a policy says', async () => {
    const ns = await newNamespace('gforb');
    for (const spec of [
      { role: 'cluster-admin', clusterWide: true },
      { role: 'cluster-admin', namespace: ns },
      { role: forbidden, namespace: ns },
    ]) {
      const res = await server.as('dave').post('/api/v1/accessrequests', body(spec));
      expect(res.status).toBe(403);
      const message =
        spec.role === 'cluster-admin'
          ? 'cluster-admin is never granted: the config does not allow it (guardrails.allowClusterAdmin)'
          : `role ${forbidden} is forbidden by guardrails.forbiddenRoles`;
      expect(res.body.detail).toBe(message);
      // Refused before any policy is judged, so dave-anything's allowEscalatingRoles never comes into it.
      expect(res.body.decision).toEqual({
        outcome: 'refused',
        policy: null,
        source: null,
        trace: [],
        refusal: { kind: 'guardrail', message },
        notes: [],
        requireMfa: false,
        approvalRequiresMfa: false,
      });
      expect((await recorded(res.body.request)).status.phase).toBe('Denied');
    }
    expect(await canI(kubeconfig, { user: 'dave', verb: 'get', resource: 'configmaps', namespace: ns })).toBe(
      false,
    );
  });
});

describe('a role edited after the request was made', () => {
  it.each([
    {
      what: 'pods/exec create',
      rule: { apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] },
      says: 'lets the holder create pods/exec',
    },
    {
      what: 'escalate and bind on roles',
      rule: { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['escalate', 'bind'] },
      says: 'lets the holder escalate roles',
    },
  ])(
    'is refused at activation when it now grants $what: Denied with the reason, no binding ever',
    async ({ rule, says }) => {
      const ns = await newNamespace('gedit');
      const role = uniqueName(`${run}-edited`);
      const harmless = { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] };
      await createClusterRole(role, [harmless]);

      const res = await server.as('alice').post('/api/v1/accessrequests', body({ role, namespace: ns }));
      expect(res.status).toBe(201);
      expect(res.body.status).toMatchObject({ phase: 'Pending', policy: 'edited-needs-approval' });
      const id: string = res.body.metadata.name;

      await rbac.replaceClusterRole({
        name: role,
        body: { metadata: { name: role }, rules: [harmless, rule] },
      });

      const approved = await server.as('bob').post(`/api/v1/accessrequests/${id}/approve`, { comment: 'ok' });
      expect(approved.status).toBe(200);
      expect(approved.body.status.phase).toBe('Denied');
      expect(approved.body.status.grant).toBeNull();
      expect(approved.body.status.message).toContain(
        `refused at activation: ClusterRole ${role} in namespace ${ns} on cluster dev escalates: rule `,
      );
      expect(approved.body.status.message).toContain(says);
      expect(approved.body.status.message).toContain(
        `(policy edited-needs-approval does not list ${role} in allowEscalatingRoles)`,
      );

      const events = (await auditEvents(server)).filter((e) => e.requestId === id);
      expect(events.map((e) => e.action)).toEqual([
        'RequestCreated',
        'ApprovalRecorded',
        'RequestApproved',
        'ActivationRefused',
      ]);
      expect(events.at(-1)).toMatchObject({
        actor: 'system:elevate',
        details: { refusal: { kind: 'guardrail', rule } },
      });
      expect(await bindingExists(ns, id)).toBe(false);
      expect(
        await canI(kubeconfig, { user: 'alice', verb: 'get', resource: 'configmaps', namespace: ns }),
      ).toBe(false);
      // Later drift passes do not bring it back either.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await bindingExists(ns, id)).toBe(false);
      expect((await recorded(id)).status.phase).toBe('Denied');
    },
  );
});

describe('a role edited while its grant is active', () => {
  it('is judged again when drift would write its binding back: the grant ends instead', async () => {
    const ns = await newNamespace('grestore');
    const role = uniqueName(`${run}-restored`);
    const harmless = { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] };
    await createClusterRole(role, [harmless]);
    const res = await server.as('alice').post('/api/v1/accessrequests', body({ role, namespace: ns }));
    expect(res.body.status.phase).toBe('Active');
    const id: string = res.body.metadata.name;

    // The role now lets its holder exec into pods, and the binding goes missing.
    const exec = { apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] };
    await rbac.replaceClusterRole({
      name: role,
      body: { metadata: { name: role }, rules: [harmless, exec] },
    });
    await rbac.deleteNamespacedRoleBinding({ name: `elevate-${id}`, namespace: ns });

    await waitFor(async () => (await recorded(id)).status.phase === 'Revoked', { timeoutMs: 15_000 });
    const ended = await recorded(id);
    expect(ended.status.revocation.by).toBe('system:elevate');
    expect(ended.status.message).toContain('refused when its binding was to be restored');
    expect(ended.status.message).toContain('lets the holder create pods/exec');
    const events = (await auditEvents(server)).filter((e) => e.requestId === id).map((e) => e.action);
    expect(events).toContain('GrantRevoked');
    expect(events).not.toContain('BindingRestored');
    expect(await bindingExists(ns, id)).toBe(false);
  });
});
