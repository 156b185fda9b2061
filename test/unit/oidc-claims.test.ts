import { describe, expect, it } from 'vitest';
import { type ClaimMapping, identityFromClaims } from '../../src/adapters/auth/oidc-claims.js';
import { clusterSubject } from '../../src/domain/subject.js';

const issuer = 'https://idp.example.com';
const defaults: ClaimMapping = {
  issuer,
  usernameClaim: 'email',
  usernamePrefix: '',
  groupsClaim: 'groups',
  groupsPrefix: '',
  requiredClaims: {},
};
const alice = { sub: 'u-1', email: 'alice@example.com', email_verified: true, groups: ['devs', 'oncall'] };

describe('OIDC claims to an identity', () => {
  it('names the person by email and their groups, as coming from the issuer', () => {
    expect(identityFromClaims(alice, defaults)).toEqual({
      identity: {
        user: 'alice@example.com',
        groups: ['devs', 'oncall'],
        source: { kind: 'oidc', issuer },
      },
    });
  });

  it('puts the prefixes before the user and every group, and nothing else (not the issuer URL)', () => {
    const mapping = { ...defaults, usernameClaim: 'sub', usernamePrefix: 'corp:', groupsPrefix: 'corp:' };
    expect(identityFromClaims(alice, mapping)).toMatchObject({
      identity: { user: 'corp:u-1', groups: ['corp:devs', 'corp:oncall'] },
    });
  });

  it('takes the groups from the configured claim; one string is one group; none is no groups', () => {
    const mapping = { ...defaults, groupsClaim: 'roles' };
    expect(identityFromClaims({ ...alice, roles: 'admins' }, mapping)).toMatchObject({
      identity: { groups: ['admins'] },
    });
    expect(identityFromClaims({ email: 'bob@example.com' }, defaults)).toMatchObject({
      identity: { user: 'bob@example.com', groups: [] },
    });
  });

  it('refuses a groups claim that is not strings', () => {
    expect(identityFromClaims({ ...alice, groups: [1, 2] }, defaults)).toEqual({
      refused: 'the groups claim must be a string or a list of strings',
    });
    expect(identityFromClaims({ ...alice, groups: { a: 1 } }, defaults)).toEqual({
      refused: 'the groups claim must be a string or a list of strings',
    });
  });

  it('refuses a token without the username claim, naming the claim', () => {
    const { email: _, ...noEmail } = alice;
    expect(identityFromClaims(noEmail, defaults)).toEqual({ refused: 'the token lacks the email claim' });
    expect(identityFromClaims({ ...alice, email: '' }, defaults)).toEqual({
      refused: 'the token lacks the email claim',
    });
    expect(identityFromClaims(alice, { ...defaults, usernameClaim: 'preferred_username' })).toEqual({
      refused: 'the token lacks the preferred_username claim',
    });
  });

  it('refuses an email the token marks unverified, as kube-apiserver does; an absent mark is fine', () => {
    expect(identityFromClaims({ ...alice, email_verified: false }, defaults)).toEqual({
      refused: 'the token says its email is not verified',
    });
    expect(identityFromClaims({ ...alice, email_verified: 'true' }, defaults)).toEqual({
      refused: 'the token says its email is not verified',
    });
    const { email_verified: _, ...unmarked } = alice;
    expect(identityFromClaims(unmarked, defaults)).toMatchObject({ identity: { user: 'alice@example.com' } });
    // Only the email claim is about a verified email.
    expect(
      identityFromClaims({ ...alice, email_verified: false }, { ...defaults, usernameClaim: 'sub' }),
    ).toMatchObject({ identity: { user: 'u-1' } });
  });

  it('requires every required claim with exactly its value', () => {
    const mapping = { ...defaults, requiredClaims: { hd: 'example.com', tier: 'staff' } };
    expect(identityFromClaims({ ...alice, hd: 'example.com', tier: 'staff' }, mapping)).toMatchObject({
      identity: { user: 'alice@example.com' },
    });
    expect(identityFromClaims({ ...alice, hd: 'example.com' }, mapping)).toEqual({
      refused: 'claim tier must be staff',
    });
    expect(identityFromClaims({ ...alice, hd: 'evil.com', tier: 'staff' }, mapping)).toEqual({
      refused: 'claim hd must be example.com',
    });
    expect(identityFromClaims({ ...alice, hd: ['example.com'], tier: 'staff' }, mapping)).toEqual({
      refused: 'claim hd must be example.com',
    });
  });

  it("becomes the cluster's prefixed user in a binding, beside Elevate's own prefix", () => {
    const outcome = identityFromClaims(alice, { ...defaults, usernamePrefix: 'corp:' });
    if (!('identity' in outcome)) throw new Error(outcome.refused);
    expect(clusterSubject(outcome.identity, 'dev', { userPrefix: 'oidc:', groupPrefix: 'oidc:' })).toEqual({
      kind: 'User',
      name: 'oidc:corp:alice@example.com',
    });
  });
});
