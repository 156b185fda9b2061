import { describe, expect, it } from 'vitest';
import type { RoleRule } from '../../src/domain/policy/types.js';
import { type RequestAttributes, ruleAllows, rulesAllow } from '../../src/domain/rbac/rule-evaluation.js';

// A namespaced resource request; fields not given are '' (not given), as in a SubjectAccessReview.
const res = (
  verb: string,
  resource: string,
  more: Partial<Omit<RequestAttributes & { kind: 'resource' }, 'kind'>> = {},
) =>
  ({
    kind: 'resource',
    verb,
    group: '',
    resource,
    subresource: '',
    name: '',
    namespace: 'team-a',
    ...more,
  }) as const satisfies RequestAttributes;
const url = (verb: string, path: string): RequestAttributes => ({ kind: 'nonResource', verb, path });

const clusterWide = { namespace: null };
const inTeamA = { namespace: 'team-a' };

describe('ruleAllows: verbs and API groups', () => {
  const podReader: RoleRule = { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] };

  it('matches listed verbs exactly and nothing else', () => {
    expect(ruleAllows(podReader, res('get', 'pods'))).toBe(true);
    expect(ruleAllows(podReader, res('list', 'pods'))).toBe(true);
    expect(ruleAllows(podReader, res('delete', 'pods'))).toBe(false);
    expect(ruleAllows(podReader, res('GET', 'pods'))).toBe(false);
  });

  it("'*' grants every verb, including the literal '*'", () => {
    const any: RoleRule = { apiGroups: [''], resources: ['pods'], verbs: ['*'] };
    expect(ruleAllows(any, res('deletecollection', 'pods'))).toBe(true);
    expect(ruleAllows(any, res('*', 'pods'))).toBe(true);
    // A request for verb '*' is only granted by a '*' rule, not by listing every verb.
    expect(ruleAllows(podReader, res('*', 'pods'))).toBe(false);
  });

  it("'' is the core group only; '*' is every group", () => {
    expect(ruleAllows(podReader, res('get', 'pods', { group: 'apps' }))).toBe(false);
    const anyGroup: RoleRule = { apiGroups: ['*'], resources: ['pods'], verbs: ['get'] };
    expect(ruleAllows(anyGroup, res('get', 'pods', { group: 'apps' }))).toBe(true);
    expect(ruleAllows(anyGroup, res('get', 'pods'))).toBe(true);
    const apps: RoleRule = { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get'] };
    expect(ruleAllows(apps, res('get', 'deployments', { group: 'apps' }))).toBe(true);
    expect(ruleAllows(apps, res('get', 'deployments'))).toBe(false);
  });

  it('a resource rule without apiGroups matches nothing (a nil list in Go)', () => {
    expect(ruleAllows({ resources: ['pods'], verbs: ['*'] }, res('get', 'pods'))).toBe(false);
  });
});

describe('ruleAllows: resources and subresources', () => {
  const rule = (resources: string[]): RoleRule => ({ apiGroups: ['*'], resources, verbs: ['*'] });

  it("'*' matches every resource and every subresource", () => {
    expect(ruleAllows(rule(['*']), res('get', 'secrets'))).toBe(true);
    expect(ruleAllows(rule(['*']), res('create', 'pods', { subresource: 'exec' }))).toBe(true);
  });

  it('a resource does not grant its subresources, nor a subresource its resource', () => {
    expect(ruleAllows(rule(['pods']), res('create', 'pods', { subresource: 'exec' }))).toBe(false);
    expect(ruleAllows(rule(['pods/exec']), res('create', 'pods', { subresource: 'exec' }))).toBe(true);
    expect(ruleAllows(rule(['pods/exec']), res('get', 'pods'))).toBe(false);
    expect(ruleAllows(rule(['pods/exec']), res('get', 'pods', { subresource: 'log' }))).toBe(false);
  });

  it("'*/scale' matches the scale subresource of any resource, never a resource itself", () => {
    const scale = rule(['*/scale']);
    expect(ruleAllows(scale, res('update', 'deployments', { group: 'apps', subresource: 'scale' }))).toBe(
      true,
    );
    expect(ruleAllows(scale, res('update', 'statefulsets', { subresource: 'scale' }))).toBe(true);
    expect(ruleAllows(scale, res('update', 'deployments', { subresource: 'status' }))).toBe(false);
    expect(ruleAllows(scale, res('get', 'deployments'))).toBe(false);
    expect(ruleAllows(scale, res('get', 'scale'))).toBe(false);
    // The length check in Go: "*/scale" is not "*/" followed by a suffix of a longer subresource.
    expect(ruleAllows(scale, res('get', 'things', { subresource: 'upscale' }))).toBe(false);
    expect(ruleAllows(rule(['*/']), res('get', 'pods'))).toBe(false);
  });

  it("'pods/*' is no wildcard: it only matches the literal subresource '*'", () => {
    const podsStar = rule(['pods/*']);
    expect(ruleAllows(podsStar, res('create', 'pods', { subresource: 'exec' }))).toBe(false);
    expect(ruleAllows(podsStar, res('get', 'pods'))).toBe(false);
    expect(ruleAllows(podsStar, res('get', 'pods', { subresource: '*' }))).toBe(true);
  });

  it('resource names are compared exactly', () => {
    expect(ruleAllows(rule(['pods']), res('get', 'Pods'))).toBe(false);
    expect(ruleAllows(rule(['pods']), res('get', 'pod'))).toBe(false);
  });
});

describe('ruleAllows: resourceNames', () => {
  const named: RoleRule = {
    apiGroups: [''],
    resources: ['configmaps'],
    verbs: ['*'],
    resourceNames: ['app'],
  };

  it('grants the named objects only', () => {
    expect(ruleAllows(named, res('get', 'configmaps', { name: 'app' }))).toBe(true);
    expect(ruleAllows(named, res('get', 'configmaps', { name: 'other' }))).toBe(false);
  });

  it('denies requests without a name: list, watch, create of a collection', () => {
    expect(ruleAllows(named, res('list', 'configmaps'))).toBe(false);
    expect(ruleAllows(named, res('watch', 'configmaps'))).toBe(false);
    expect(ruleAllows(named, res('create', 'configmaps'))).toBe(false);
  });

  it('an empty resourceNames list means every name, and no name at all', () => {
    const all: RoleRule = { ...named, resourceNames: [] };
    expect(ruleAllows(all, res('list', 'configmaps'))).toBe(true);
    expect(ruleAllows(all, res('get', 'configmaps', { name: 'anything' }))).toBe(true);
  });
});

describe('ruleAllows: non-resource URLs', () => {
  const rule = (nonResourceURLs: string[], verbs = ['get']): RoleRule => ({ nonResourceURLs, verbs });

  it('matches exact paths', () => {
    expect(ruleAllows(rule(['/healthz']), url('get', '/healthz'))).toBe(true);
    expect(ruleAllows(rule(['/healthz']), url('get', '/healthz/ready'))).toBe(false);
    expect(ruleAllows(rule(['/healthz']), url('post', '/healthz'))).toBe(false);
  });

  it("a trailing '*' is a plain prefix match, not a path-segment match", () => {
    expect(ruleAllows(rule(['/logs/*']), url('get', '/logs/kube.log'))).toBe(true);
    expect(ruleAllows(rule(['/logs/*']), url('get', '/logs/'))).toBe(true);
    expect(ruleAllows(rule(['/logs/*']), url('get', '/logs'))).toBe(false);
    expect(ruleAllows(rule(['/healthz*']), url('get', '/healthzzz'))).toBe(true);
    // TrimRight strips every trailing '*'.
    expect(ruleAllows(rule(['/api**']), url('get', '/apis/x'))).toBe(true);
    expect(ruleAllows(rule(['**']), url('get', '/anything'))).toBe(true);
  });

  it("'*' matches every path; a '*' inside the URL is literal", () => {
    expect(ruleAllows(rule(['*']), url('get', '/metrics'))).toBe(true);
    expect(ruleAllows(rule(['/a/*/b']), url('get', '/a/x/b'))).toBe(false);
  });

  it('resource rules never grant non-resource requests and vice versa', () => {
    const everything: RoleRule = { apiGroups: ['*'], resources: ['*'], verbs: ['*'] };
    expect(ruleAllows(everything, url('get', '/healthz'))).toBe(false);
    expect(ruleAllows(rule(['*'], ['*']), res('get', 'pods'))).toBe(false);
  });
});

describe('rulesAllow: how the binding scopes the rules', () => {
  const rules: RoleRule[] = [
    { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
    { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
    { nonResourceURLs: ['/healthz'], verbs: ['get'] },
  ];

  it('any rule of the list may grant', () => {
    expect(rulesAllow(rules, res('get', 'pods'), clusterWide)).toBe(true);
    expect(rulesAllow(rules, res('get', 'nodes', { namespace: '' }), clusterWide)).toBe(true);
    expect(rulesAllow(rules, res('list', 'pods'), clusterWide)).toBe(false);
    expect(rulesAllow([], res('get', 'pods'), clusterWide)).toBe(false);
  });

  it('a ClusterRoleBinding grants in every namespace, cluster-wide, and non-resource URLs', () => {
    expect(rulesAllow(rules, res('get', 'pods', { namespace: 'team-b' }), clusterWide)).toBe(true);
    expect(rulesAllow(rules, res('get', 'pods', { namespace: '' }), clusterWide)).toBe(true);
    expect(rulesAllow(rules, url('get', '/healthz'), clusterWide)).toBe(true);
  });

  it('a RoleBinding grants only requests in its own namespace', () => {
    expect(rulesAllow(rules, res('get', 'pods'), inTeamA)).toBe(true);
    expect(rulesAllow(rules, res('get', 'pods', { namespace: 'team-b' }), inTeamA)).toBe(false);
  });

  it('a RoleBinding never grants cluster-scoped (namespace "") requests', () => {
    expect(rulesAllow(rules, res('get', 'pods', { namespace: '' }), inTeamA)).toBe(false);
    expect(rulesAllow(rules, res('get', 'nodes', { namespace: '' }), inTeamA)).toBe(false);
    // The authorizer does not know which resources are namespaced: a namespaced question about nodes is
    // granted by the RoleBinding, though no real request to nodes ever carries a namespace.
    expect(rulesAllow(rules, res('get', 'nodes'), inTeamA)).toBe(true);
  });

  it('a RoleBinding never grants non-resource URLs, even from a ClusterRole that lists them', () => {
    expect(rulesAllow(rules, url('get', '/healthz'), inTeamA)).toBe(false);
  });

  it('a RoleBinding with an empty namespace grants nothing', () => {
    expect(rulesAllow(rules, res('get', 'pods', { namespace: '' }), { namespace: '' })).toBe(false);
  });
});
