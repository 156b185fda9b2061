import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load-config.js';
import { parseDuration } from '../../src/domain/duration.js';

const base = `storage: sqlite:./e.db
auth: { tokenFile: ./t.csv }
clusters: [{ name: dev, kubeconfig: ./k }]
`;
const policy = (maxDuration?: string) =>
  `policies:\n  - name: p\n    match: {}\n    decision: auto\n${maxDuration ? `    maxDuration: ${maxDuration}\n` : ''}`;

// The refusal of a duration outside the limits is the engine's (test/unit/policy/constraints.test.ts).
describe('duration limits', () => {
  it('default to 1m and 168h; a policy without maxDuration gets 1h, or the ceiling when that is lower', () => {
    const config = parseConfig(base + policy(), '/etc/elevate.yaml');
    expect(config.policySet.limits).toMatchObject({ minDurationMs: 60_000, maxDurationMs: 168 * 3_600_000 });
    expect(config.policySet.policies[0]?.maxDurationMs).toBe(3_600_000);
    const narrow = parseConfig(`${base}limits: { maxDuration: 30m }\n${policy()}`, '/etc/elevate.yaml');
    expect(narrow.policySet.policies[0]?.maxDurationMs).toBe(1_800_000);
  });

  it('a policy may only narrow limits.maxDuration: a wider one is refused at load, naming the field', () => {
    expect(() => parseConfig(base + policy('200h'), '/etc/elevate.yaml')).toThrow(ConfigError);
    expect(() => parseConfig(base + policy('200h'), '/etc/elevate.yaml')).toThrow(
      /\/etc\/elevate.yaml: policies\[0\]\.maxDuration: exceeds limits.maxDuration \(168h\)/,
    );
    expect(() =>
      parseConfig(`${base}limits: { minDuration: 2h }\n${policy('1h')}`, '/etc/elevate.yaml'),
    ).toThrow(/policies\[0\]\.maxDuration: is below limits.minDuration/);
    expect(() =>
      parseConfig(`${base}limits: { minDuration: 2h, maxDuration: 1h }\n`, '/etc/elevate.yaml'),
    ).toThrow(/limits\.minDuration: must not exceed limits.maxDuration/);
  });

  it('a 400-digit duration is no duration at all, not Infinity', () => {
    expect(parseDuration(`${'9'.repeat(400)}h`)).toBeNull();
    expect(() =>
      parseConfig(`${base}limits: { maxDuration: ${'9'.repeat(400)}h }\n`, '/etc/elevate.yaml'),
    ).toThrow(/limits\.maxDuration: .* is not a duration/);
  });
});
