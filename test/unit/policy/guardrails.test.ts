import { describe, expect, it } from 'vitest';
import { checkGuardrails, describeRule, escalation } from '../../../src/domain/policy/guardrails.js';
import type { Guardrails, RoleRule } from '../../../src/domain/policy/types.js';
import { adminRules, editRules, viewRules } from './bootstrap-roles.js';
import { policy, target } from './fixtures.js';

const guardrails: Guardrails = {
  allowClusterAdmin: false,
  forbiddenRoles: ['system:*', 'breakglass'],
  protectedNamespaces: ['kube-system'],
};
const ns = target({ namespace: 'payments' });
const clusterWide = target({ namespace: null });

describe('checkGuardrails: names', () => {
  it('refuses cluster-admin unless allowClusterAdmin', () => {
    const t = target({ role: 'cluster-admin' });
    expect(checkGuardrails(guardrails, null, t, undefined)).toEqual({
      kind: 'guardrail',
      message: 'cluster-admin is never granted: the config does not allow it (guardrails.allowClusterAdmin)',
    });
    expect(checkGuardrails({ ...guardrails, allowClusterAdmin: true }, null, t, undefined)).toBeNull();
    // A namespaced Role that happens to be called cluster-admin is not the ClusterRole.
    expect(
      checkGuardrails(guardrails, null, target({ role: 'cluster-admin', roleKind: 'Role' }), undefined),
    ).toBeNull();
  });

  it.each([
    ['breakglass', true],
    ['system:node', true],
    ['systemx', false],
    ['edit', false],
  ])('forbiddenRoles: %s refused: %s', (role, refused) => {
    const r = checkGuardrails(guardrails, policy('p'), target({ role }), undefined);
    if (refused)
      expect(r).toEqual({
        kind: 'guardrail',
        message: `role ${role} is forbidden by guardrails.forbiddenRoles`,
      });
    else expect(r).toBeNull();
  });

  it('refuses forbidden roles even for a policy listing them in allowEscalatingRoles', () => {
    const p = policy('p', { allowEscalatingRoles: ['breakglass'] });
    expect(checkGuardrails(guardrails, p, target({ role: 'breakglass' }), [])?.kind).toBe('guardrail');
  });
});

describe('checkGuardrails: role rules', () => {
  it('skips the rule checks when the rules are unknown (offline)', () => {
    expect(checkGuardrails(guardrails, policy('p'), ns, undefined)).toBeNull();
  });

  it('refuses a role that does not exist', () => {
    expect(
      checkGuardrails(guardrails, policy('p'), target({ role: 'ghost', roleKind: 'Role' }), null),
    ).toEqual({
      kind: 'constraint',
      field: 'spec.role',
      message: 'Role ghost does not exist in namespace payments on cluster dev',
    });
    expect(
      checkGuardrails(guardrails, policy('p'), target({ role: 'ghost', namespace: null }), null)?.message,
    ).toBe('ClusterRole ghost does not exist on cluster dev');
  });

  it('lets view through, in a namespace and cluster-wide', () => {
    expect(checkGuardrails(guardrails, policy('p'), target({ role: 'view' }), viewRules)).toBeNull();
    expect(
      checkGuardrails(guardrails, policy('p'), target({ role: 'view', namespace: null }), viewRules),
    ).toBeNull();
  });

  it('refuses the real edit in a namespace on its impersonate rule, naming it as written', () => {
    const r = checkGuardrails(guardrails, policy('payments-edit'), ns, editRules);
    expect(r).toEqual({
      kind: 'guardrail',
      rule: editRules[1],
      message:
        'ClusterRole edit in namespace payments on cluster dev escalates: rule {apiGroups: [""], resources: ["serviceaccounts"], verbs: ["impersonate"]} lets the holder impersonate serviceaccounts (policy payments-edit does not list edit in allowEscalatingRoles)',
    });
  });

  it('refuses the real edit cluster-wide already on reading secrets', () => {
    const r = checkGuardrails(guardrails, policy('p'), clusterWide, editRules);
    expect(r?.rule).toBe(editRules[0]);
    expect(r?.message).toContain('lets the holder get secrets in every namespace');
  });

  it('refuses the real admin', () => {
    const r = checkGuardrails(guardrails, policy('p'), target({ role: 'admin' }), adminRules);
    expect(r?.rule).toBe(adminRules[1]);
    expect(r?.kind).toBe('guardrail');
  });

  it('lets a role through when the matched policy lists it in allowEscalatingRoles', () => {
    const p = policy('p', { allowEscalatingRoles: ['edit'] });
    expect(checkGuardrails(guardrails, p, ns, editRules)).toBeNull();
    expect(checkGuardrails(guardrails, p, target({ role: 'admin' }), adminRules)).not.toBeNull();
  });

  it('says no policy may have allowed it when checked before matching', () => {
    expect(checkGuardrails(guardrails, null, ns, editRules)?.message).toMatch(
      /\(a policy may allow it with allowEscalatingRoles\)$/,
    );
  });
});

describe('escalation (RBAC matching)', () => {
  const core = (resources: string[], verbs: string[], extra: Partial<RoleRule> = {}): RoleRule => ({
    apiGroups: [''],
    resources,
    verbs,
    ...extra,
  });
  it.each<[string, RoleRule, boolean, string | null]>([
    [
      'escalate',
      { apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['escalate'] },
      false,
      'lets the holder escalate clusterroles',
    ],
    [
      'bind',
      { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['get', 'bind'] },
      false,
      'lets the holder bind roles',
    ],
    [
      'impersonate',
      { apiGroups: [''], resources: ['users', 'groups'], verbs: ['impersonate'] },
      false,
      'lets the holder impersonate users, groups',
    ],
    [
      '* verbs on one resource',
      core(['configmaps'], ['*']),
      false,
      'lets the holder use every verb on configmaps, escalate, bind and impersonate included',
    ],
    [
      '* verbs on * resources',
      { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      false,
      'lets the holder use every verb on every resource',
    ],
    ['create pods/exec', core(['pods/exec'], ['create']), false, 'lets the holder create pods/exec'],
    ['create pods/attach', core(['pods/attach'], ['create']), false, 'lets the holder create pods/attach'],
    [
      'create serviceaccounts/token',
      core(['serviceaccounts/token'], ['create']),
      false,
      'lets the holder create serviceaccounts/token',
    ],
    ['create on resources *', core(['*'], ['create']), false, 'lets the holder create pods/exec'],
    ['create on */exec', core(['*/exec'], ['create']), false, 'lets the holder create pods/exec'],
    [
      'create on */token',
      core(['*/token'], ['create']),
      false,
      'lets the holder create serviceaccounts/token',
    ],
    [
      'apiGroups * reaches the core group',
      { apiGroups: ['*'], resources: ['pods/exec'], verbs: ['create'] },
      false,
      'lets the holder create pods/exec',
    ],
    [
      'resourceNames do not excuse exec',
      core(['pods/exec'], ['create'], { resourceNames: ['db-0'] }),
      false,
      'lets the holder create pods/exec',
    ],
    ['pods/* is no RBAC wildcard', core(['pods/*'], ['create']), false, null],
    ['create pods is not exec', core(['pods'], ['create']), false, null],
    ['get pods/exec is not create', core(['pods/exec'], ['get']), false, null],
    [
      'pods/exec in another group',
      { apiGroups: ['apps'], resources: ['pods/exec'], verbs: ['create'] },
      false,
      null,
    ],
    ['no apiGroups matches no group', { resources: ['pods/exec'], verbs: ['create'] }, false, null],
    ['get secrets in a namespace', core(['secrets'], ['get']), false, null],
    [
      'get secrets cluster-wide',
      core(['secrets'], ['get']),
      true,
      'lets the holder get secrets in every namespace',
    ],
    [
      'watch secrets cluster-wide',
      core(['secrets'], ['watch']),
      true,
      'lets the holder watch secrets in every namespace',
    ],
    [
      'get on resources * cluster-wide',
      core(['*'], ['get', 'list']),
      true,
      'lets the holder get secrets in every namespace',
    ],
    ['update secrets cluster-wide is not a read', core(['secrets'], ['update']), true, null],
    [
      'secrets in another group',
      { apiGroups: ['example.com'], resources: ['secrets'], verbs: ['get'] },
      true,
      null,
    ],
    ['nonResourceURLs are not escalation', { nonResourceURLs: ['*'], verbs: ['*'] }, true, null],
  ])('%s', (_name, rule, wide, expected) => {
    expect(escalation(rule, wide)).toBe(expected);
  });

  it('writes rules as a role does', () => {
    expect(describeRule({ apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] })).toBe(
      '{apiGroups: [""], resources: ["pods/exec"], verbs: ["create"]}',
    );
    expect(describeRule({ apiGroups: [''], resources: ['pods'], resourceNames: ['a'], verbs: ['get'] })).toBe(
      '{apiGroups: [""], resources: ["pods"], resourceNames: ["a"], verbs: ["get"]}',
    );
    expect(describeRule({ nonResourceURLs: ['/metrics'], verbs: ['get'] })).toBe(
      '{nonResourceURLs: ["/metrics"], verbs: ["get"]}',
    );
  });
});
