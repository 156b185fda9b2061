import { describe, expect, it } from 'vitest';
import { attribute, type GrantWindow, grantWindows } from '../../src/domain/activity.js';
import { accessRequest } from '../support/fixtures.js';

const t0 = Date.parse('2026-11-22T10:00:00Z');
const window = (over: Partial<GrantWindow> = {}): GrantWindow => ({
  requestId: 'ar-1',
  cluster: 'dev',
  user: 'alice',
  namespaces: new Set(['payments']),
  bindings: ['elevate-ar-1'],
  from: t0,
  until: t0 + 3_600_000,
  ...over,
});

/** An audit.k8s.io/v1 Event at Metadata level, as the API server writes it. */
const event = (over: Record<string, unknown> = {}) => ({
  level: 'Metadata',
  auditID: 'a1',
  stage: 'ResponseComplete',
  requestURI: '/api/v1/namespaces/payments/configmaps',
  verb: 'create',
  user: { username: 'alice', groups: ['devs'] },
  sourceIPs: ['10.0.0.7'],
  userAgent: 'kubectl/v1.36.3',
  objectRef: { resource: 'configmaps', namespace: 'payments', name: 'cm1', apiVersion: 'v1' },
  responseStatus: { code: 201 },
  requestReceivedTimestamp: new Date(t0 + 60_000).toISOString(),
  annotations: {
    'authorization.k8s.io/decision': 'allow',
    'authorization.k8s.io/reason':
      'RBAC: allowed by RoleBinding "elevate-ar-1/payments" of ClusterRole "edit" to User "alice"',
  },
  ...over,
});

const byUser = (windows: GrantWindow[]) => (user: string) => {
  const found = windows.filter((w) => w.user === user);
  return found.length > 0 ? found : undefined;
};

describe('attributing API-server audit events to grants', () => {
  it('records an action in scope and window with everything a review needs', () => {
    expect(attribute('dev', event(), byUser([window()]))).toEqual({
      auditId: 'a1',
      requestId: 'ar-1',
      cluster: 'dev',
      time: new Date(t0 + 60_000),
      user: 'alice',
      impersonator: null,
      verb: 'create',
      apiGroup: null,
      resource: 'configmaps',
      subresource: null,
      namespace: 'payments',
      name: 'cm1',
      uri: null,
      code: 201,
      userAgent: 'kubectl/v1.36.3',
      sourceIps: ['10.0.0.7'],
      viaGrant: true,
    });
  });

  it('counts an impersonated request for the impersonated user and names who impersonated', () => {
    const record = attribute(
      'dev',
      event({ user: { username: 'ops-bot' }, impersonatedUser: { username: 'alice' } }),
      byUser([window()]),
    );
    expect(record).toMatchObject({ user: 'alice', impersonator: 'ops-bot', requestId: 'ar-1' });
  });

  it('drops other users, other namespaces, other stages, and times outside the grant', () => {
    const w = byUser([window()]);
    expect(attribute('dev', event({ user: { username: 'mallory' } }), w)).toBeNull();
    expect(
      attribute('dev', event({ objectRef: { resource: 'configmaps', namespace: 'kube-system' } }), w),
    ).toBeNull();
    expect(attribute('dev', event({ objectRef: { resource: 'nodes' } }), w)).toBeNull();
    expect(attribute('dev', event({ stage: 'RequestReceived' }), w)).toBeNull();
    expect(attribute('dev', event({ stage: 'ResponseStarted' }), w)).toBeNull();
    expect(
      attribute('dev', event({ requestReceivedTimestamp: new Date(t0 - 1).toISOString() }), w),
    ).toBeNull();
    expect(
      attribute('dev', event({ requestReceivedTimestamp: new Date(t0 + 3_600_000).toISOString() }), w),
    ).toBeNull();
    expect(attribute('dev', event({ auditID: undefined }), w)).toBeNull();
  });

  it('takes anything on the cluster for a cluster-wide grant, discovery calls by their URI', () => {
    const record = attribute(
      'dev',
      event({ objectRef: undefined, verb: 'get', requestURI: '/apis' }),
      byUser([window({ namespaces: null })]),
    );
    expect(record).toMatchObject({ resource: null, uri: '/apis', namespace: null });
  });

  it('says allowed by the grant only when the authorizer named one of its own bindings', () => {
    const w = byUser([window()]);
    const reason = (text: string) => ({
      'authorization.k8s.io/decision': 'allow',
      'authorization.k8s.io/reason': text,
    });
    const other = 'RBAC: allowed by RoleBinding "team-edit/payments" of ClusterRole "edit" to Group "devs"';
    expect(attribute('dev', event({ annotations: reason(other) }), w)?.viaGrant).toBe(false);
    // A binding whose name merely starts like the grant's is another one.
    const longer =
      'RBAC: allowed by RoleBinding "elevate-ar-10/payments" of ClusterRole "edit" to User "alice"';
    expect(attribute('dev', event({ annotations: reason(longer) }), w)?.viaGrant).toBe(false);
    const cluster =
      'RBAC: allowed by ClusterRoleBinding "elevate-ar-1" of ClusterRole "view" to User "alice"';
    expect(attribute('dev', event({ annotations: reason(cluster) }), w)?.viaGrant).toBe(true);
    const denied = { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' };
    expect(attribute('dev', event({ annotations: denied, responseStatus: { code: 403 } }), w)).toMatchObject({
      viaGrant: false,
      code: 403,
    });
  });
});

describe('the windows of a grant', () => {
  const activatedAt = new Date(t0);
  const grant = {
    bindings: [{ cluster: 'dev', kind: 'RoleBinding' as const, name: 'elevate-ar-1', namespace: 'payments' }],
    activatedAt,
    expiresAt: new Date(t0 + 3_600_000),
  };

  it('names the holder as the API server does: the binding subject, a ServiceAccount as its username', () => {
    const request = accessRequest({
      id: 'ar-1',
      at: activatedAt,
      phase: 'Active',
      target: { role: 'view', namespace: 'payments' },
      grant,
    });
    const [w] = grantWindows({
      ...request,
      spec: {
        ...request.spec,
        subjects: { dev: { kind: 'ServiceAccount', namespace: 'ci', name: 'deployer' } },
      },
    });
    expect(w).toMatchObject({
      user: 'system:serviceaccount:ci:deployer',
      from: t0,
      until: Number.POSITIVE_INFINITY,
    });
    expect([...(w?.namespaces ?? [])]).toEqual(['payments']);
  });

  it('ends when the grant ended, and a request never active has none', () => {
    const ended = accessRequest({
      id: 'ar-1',
      at: activatedAt,
      phase: 'Expired',
      target: { role: 'view', namespace: 'payments' },
      grant,
    });
    const [w] = grantWindows({ ...ended, updatedAt: new Date(t0 + 3_600_500) });
    expect(w?.until).toBe(t0 + 3_600_500);
    expect(
      grantWindows(
        accessRequest({
          id: 'ar-2',
          at: activatedAt,
          phase: 'Pending',
          target: { role: 'view', namespace: 'payments' },
        }),
      ),
    ).toEqual([]);
  });
});
