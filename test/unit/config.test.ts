import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load-config.js';

/** The config from the issue, as written. */
const sampleConfig = `listen: 127.0.0.1:8080
storage: sqlite:./elevate.db
auth:
  tokenFile: ./tokens.csv
clusters:
  - name: dev
    kubeconfig: ./testenv/dev/admin.kubeconfig
policies:
  - name: payments-edit
    match:
      groups: [devs]
      clusters: [dev]
      namespaces: [payments]
      roles: [edit]
    decision: approval
    approval:
      approvers:
        groups: [sre-leads]
      required: 1
    maxDuration: 2h
  - name: view-anywhere
    match:
      groups: [devs]
      roles: [view]
    decision: auto
    maxDuration: 8h
`;

describe('config', () => {
  it('loads the documented sample, with paths relative to the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'elevate-config-'));
    const file = join(dir, 'elevate.yaml');
    writeFileSync(file, sampleConfig);
    const config = loadConfig(file);
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(config.storage).toEqual({ kind: 'sqlite', path: join(dir, 'elevate.db') });
    expect(config.auth.tokenFile).toBe(join(dir, 'tokens.csv'));
    expect(config.clusters[0]?.kubeconfigPath).toBe(join(dir, 'testenv/dev/admin.kubeconfig'));
    const { policies, guardrails } = config.policySet;
    expect(policies.map((p) => [p.name, p.decision, p.maxDurationMs])).toEqual([
      ['payments-edit', 'approval', 7_200_000],
      ['view-anywhere', 'auto', 28_800_000],
    ]);
    expect(policies[0]?.approval?.required).toBe(1);
    expect(guardrails.allowClusterAdmin).toBe(false);
  });

  it.each([
    ['malformed YAML', 'listen: [unclosed', /invalid YAML/],
    ['an unknown field', `${sampleConfig}colour: blue\n`, /\(root\): Unrecognized key: "colour"/],
    [
      'an unknown nested field',
      sampleConfig.replace('required: 1', 'required: 1\n      quorum: 2'),
      /policies\[0\]\.approval: Unrecognized key: "quorum"/,
    ],
    [
      'a bad duration',
      sampleConfig.replace('maxDuration: 2h', 'maxDuration: abc'),
      /policies\[0\]\.maxDuration: "abc" is not a duration/,
    ],
    [
      'a zero duration',
      sampleConfig.replace('maxDuration: 2h', 'maxDuration: 0s'),
      /policies\[0\]\.maxDuration: duration must be positive/,
    ],
    [
      'an unknown cluster in a policy',
      sampleConfig.replace('clusters: [dev]', 'clusters: [prod]'),
      /policies\[0\]\.match\.clusters: unknown cluster prod/,
    ],
    [
      'approval without approvers',
      sampleConfig.replace('groups: [sre-leads]', 'groups: []'),
      /policies\[0\]\.approval\.approvers: name at least one/,
    ],
    ['a missing storage', sampleConfig.replace('storage: sqlite:./elevate.db\n', ''), /storage: /],
    ['a duplicate key', `${sampleConfig}listen: 127.0.0.1:9\n`, /invalid YAML/],
    [
      'a duplicate cluster',
      sampleConfig
        .replace(
          'policies:',
          'clusters:\n  - { name: dev, kubeconfig: ./a }\n  - { name: dev, kubeconfig: ./b }\npolicies:',
        )
        .replace(/^clusters:\n {2}- name: dev\n {4}kubeconfig: .*\n/m, ''),
      /clusters\[1\]\.name: duplicate cluster dev/,
    ],
    [
      'a metrics.listen without a port',
      `${sampleConfig}metrics: { listen: localhost }\n`,
      /metrics\.listen: expected host:port/,
    ],
    ['a tls without a key file', `${sampleConfig}tls: { certFile: ./tls.crt }\n`, /tls\.keyFile: /],
  ])('rejects %s, naming the file and the field', (_what, text, message) => {
    expect(() => parseConfig(text, '/etc/elevate.yaml')).toThrow(ConfigError);
    expect(() => parseConfig(text, '/etc/elevate.yaml')).toThrow(message);
    expect(() => parseConfig(text, '/etc/elevate.yaml')).toThrow(/^\/etc\/elevate\.yaml: /);
  });

  it('takes a PostgreSQL URL as storage', () => {
    const text = sampleConfig.replace('sqlite:./elevate.db', 'postgres://elevate@db.internal:5432/elevate');
    expect(parseConfig(text, '/etc/elevate.yaml').storage).toEqual({
      kind: 'postgres',
      url: 'postgres://elevate@db.internal:5432/elevate',
    });
    expect(() => parseConfig(sampleConfig.replace('sqlite:./elevate.db', 'mysql://x'), '/e.yaml')).toThrow(
      /storage: expected sqlite:PATH or postgres:/,
    );
  });

  it('names an unreadable file', () => {
    expect(() => loadConfig('/nonexistent/elevate.yaml')).toThrow(
      /\/nonexistent\/elevate\.yaml: cannot read config/,
    );
  });
});
