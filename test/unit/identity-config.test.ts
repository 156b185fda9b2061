import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { openAuthenticators } from '../../src/composition/open-authenticators.js';
import { ConfigError, parseConfig } from '../../src/config/load-config.js';
import { Forbidden } from '../../src/domain/errors.js';
import type { Identity } from '../../src/domain/identity.js';
import { clusterSubject, noPrefixes } from '../../src/domain/subject.js';

const file = '/etc/elevate/elevate.yaml';
const config = (auth: string, extra = '') => `storage: sqlite:./elevate.db
auth:
${auth}
clusters:
  - name: dev
    kubeconfig: ./dev.kubeconfig
    subjects: { userPrefix: "oidc:", groupPrefix: "oidc-group:" }
  - name: prod
    kubeconfig: ./prod.kubeconfig
${extra}`;

const refusal = (text: string): string => {
  try {
    parseConfig(text, file);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('the config was accepted');
};

describe('identity sources in the config', () => {
  it('refuses a config with no way to sign in, naming the field', () => {
    expect(refusal(config('  admins: { users: [root] }'))).toBe(
      `${file}: auth: no way to sign in: set auth.tokenFile, auth.oidc or auth.kubernetes`,
    );
  });

  it('takes OIDC alone, with defaults for the claims and paths relative to the file', () => {
    const c = parseConfig(
      config(
        '  oidc: { issuer: "https://idp.example.com/realms/x", clientId: elevate, caFile: ./idp-ca.pem }',
      ),
      file,
    );
    expect(c.auth.tokenFile).toBeNull();
    expect(c.auth.oidc).toEqual({
      issuer: 'https://idp.example.com/realms/x',
      clientId: 'elevate',
      caFile: '/etc/elevate/idp-ca.pem',
      usernameClaim: 'email',
      usernamePrefix: '',
      groupsClaim: 'groups',
      groupsPrefix: '',
      requiredClaims: {},
      scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
      clockSkewMs: 30_000,
    });
    expect(c.clusters.map((cl) => [cl.name, cl.subjects])).toEqual([
      ['dev', { userPrefix: 'oidc:', groupPrefix: 'oidc-group:' }],
      ['prod', { userPrefix: '', groupPrefix: '' }],
    ]);
  });

  it.each([
    [
      'an http issuer',
      '  oidc: { issuer: "http://idp.example.com", clientId: e }',
      'auth.oidc.issuer: the issuer must be an https URL',
    ],
    ['an issuer that is no URL', '  oidc: { issuer: "idp", clientId: e }', 'auth.oidc.issuer:'],
    ['no clientId', '  oidc: { issuer: "https://idp.example.com" }', 'auth.oidc.clientId:'],
    [
      'an unknown field',
      '  oidc: { issuer: "https://idp.example.com", clientId: e, audience: x }',
      'auth.oidc:',
    ],
    [
      'a bad clock skew',
      '  oidc: { issuer: "https://idp.example.com", clientId: e, clockSkew: soon }',
      'auth.oidc.clockSkew:',
    ],
    [
      'an unknown TokenReview cluster',
      '  kubernetes: { cluster: staging }',
      'auth.kubernetes.cluster: unknown cluster staging; expected one of dev, prod',
    ],
  ])('refuses %s, naming the field', (_what, auth, message) => {
    expect(refusal(config(auth))).toContain(`${file}: ${message}`);
  });

  it('takes ServiceAccounts of a configured cluster, and a secrets key file', () => {
    const c = parseConfig(
      config('  kubernetes: { cluster: dev, audiences: [elevate] }', 'secrets: { keyFile: ./secrets.key }\n'),
      file,
    );
    expect(c.auth.kubernetes).toEqual({ cluster: 'dev', audiences: ['elevate'], cacheForMs: 10_000 });
    expect(c.secretsKeyFile).toBe('/etc/elevate/secrets.key');
  });
});

describe('the subject a binding names', () => {
  const naming = { userPrefix: 'oidc:', groupPrefix: 'oidc:' };
  const who = (user: string, source?: Identity['source']): Identity => ({
    user,
    groups: ['devs'],
    ...(source ? { source } : {}),
  });

  it("prefixes an OIDC user with the cluster's prefix, and only an OIDC user", () => {
    const oidc = who('alice@example.com', { kind: 'oidc', issuer: 'https://idp' });
    expect(clusterSubject(oidc, 'dev', naming)).toEqual({ kind: 'User', name: 'oidc:alice@example.com' });
    expect(clusterSubject(oidc, 'prod', noPrefixes)).toEqual({ kind: 'User', name: 'alice@example.com' });
    expect(clusterSubject(who('alice'), 'dev', naming)).toEqual({ kind: 'User', name: 'alice' });
    expect(clusterSubject(who('token:ci', { kind: 'api-token', name: 'ci' }), 'dev', naming)).toEqual({
      kind: 'User',
      name: 'token:ci',
    });
  });

  it('binds a ServiceAccount as one in its own cluster, and refuses it in another', () => {
    const sa = who('system:serviceaccount:ci:deployer', { kind: 'kubernetes', cluster: 'dev' });
    expect(clusterSubject(sa, 'dev', naming)).toEqual({
      kind: 'ServiceAccount',
      namespace: 'ci',
      name: 'deployer',
    });
    expect(() => clusterSubject(sa, 'prod', naming)).toThrow(Forbidden);
    expect(() => clusterSubject(sa, 'prod', naming)).toThrow(
      'system:serviceaccount:ci:deployer is a ServiceAccount of cluster dev; it cannot be granted access in cluster prod',
    );
  });
});

describe('files the identity sources read', () => {
  it('refuses to start on an OIDC caFile that holds no certificate, naming the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'elevate-ca-'));
    writeFileSync(join(dir, 'idp-ca.pem'), 'not a certificate\n');
    const configFile = join(dir, 'elevate.yaml');
    const c = parseConfig(
      config('  oidc: { issuer: "https://idp.example.com", clientId: elevate, caFile: ./idp-ca.pem }'),
      configFile,
    );
    const store = { findApiTokenByDigest: async () => null, recordApiTokenUse: async () => {} };
    expect(() => openAuthenticators(c, pino({ level: 'silent' }), store)).toThrow(
      `${configFile}: auth.oidc.caFile: ${join(dir, 'idp-ca.pem')} holds no PEM certificate`,
    );
  });
});
