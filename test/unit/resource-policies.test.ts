import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { judgePolicyObjects, type PolicyObject } from '../../src/config/resource-policies.js';

const config = parseConfig(
  `storage: sqlite:./e.db
auth: { tokenFile: ./tokens.csv }
clusters:
  - { name: dev, kubeconfig: ./dev }
home: { cluster: dev }
limits: { maxDuration: 8h }
policies:
  - { name: file-low, priority: 1, match: { groups: [devs] }, decision: auto }
  - { name: file-high, priority: 100, match: { groups: [sre] }, decision: auto }
profiles:
  - { name: oncall, targets: [{ cluster: dev, namespace: payments, role: edit }] }
`,
  '/etc/elevate/elevate.yaml',
);

const object = (kind: PolicyObject['kind'], name: string, spec: unknown): PolicyObject => ({
  kind,
  name,
  generation: 1,
  spec,
});

describe('policies from custom resources', () => {
  it('join the file’s, ordered by priority across both, named by where they come from', () => {
    const { set, verdicts } = judgePolicyObjects(config.parsed, config.file, [
      object('AccessPolicy', 'cr-mid', { priority: 50, decision: 'deny', message: 'not now' }),
      object('AccessProfile', 'cr-profile', {
        targets: [{ cluster: 'dev', clusterWide: true, role: 'view' }],
      }),
    ]);
    expect(set.policies.map((p) => [p.name, p.source])).toEqual([
      ['file-high', '/etc/elevate/elevate.yaml policies[1]'],
      ['cr-mid', 'AccessPolicy cr-mid'],
      ['file-low', '/etc/elevate/elevate.yaml policies[0]'],
    ]);
    expect(set.profiles.map((p) => p.name)).toEqual(['oncall', 'cr-profile']);
    expect(verdicts.every((v) => v.accepted)).toBe(true);
    expect(set.digest).not.toBe(config.policySet.digest);
  });

  it('refuses each bad object on its own, naming the field; the others and the file stand', () => {
    const { set, verdicts } = judgePolicyObjects(config.parsed, config.file, [
      object('AccessPolicy', 'ok', { decision: 'auto' }),
      object('AccessPolicy', 'no-approval', { decision: 'approval' }),
      object('AccessPolicy', 'file-low', { decision: 'deny' }),
      object('AccessPolicy', 'long', { decision: 'auto', maxDuration: '9h' }),
      object('AccessPolicy', 'typo', { decision: 'auto', match: { grups: ['x'] } }),
      object('AccessProfile', 'oncall', { targets: [{ cluster: 'dev', namespace: 'x', role: 'view' }] }),
      object('AccessProfile', 'elsewhere', { targets: [{ cluster: 'prod', namespace: 'x', role: 'view' }] }),
    ]);
    const refused = Object.fromEntries(
      verdicts.filter((v) => !v.accepted).map((v) => [v.object.name, v.message]),
    );
    expect(refused).toEqual({
      'no-approval': 'spec.approval: required when decision is approval',
      'file-low': 'the config file has a policy named file-low',
      long: 'spec.maxDuration: exceeds limits.maxDuration; a policy may only narrow it',
      typo: expect.stringMatching(/^spec\.match: Unrecognized key: "grups"/),
      oncall: 'the config file has a profile named oncall',
      elsewhere: 'spec.targets[0].cluster: unknown cluster prod (not in clusters)',
    });
    expect(set.policies.map((p) => p.name)).toEqual(['file-high', 'file-low', 'ok']);
  });

  it('a home cluster must be one of clusters[]', () => {
    expect(() =>
      parseConfig(
        'storage: sqlite:./e.db\nauth: { tokenFile: ./t }\nclusters: [{ name: dev, kubeconfig: ./dev }]\nhome: { cluster: prod }\n',
        '/e.yaml',
      ),
    ).toThrow(/home\.cluster: unknown cluster prod/);
  });
});
