import { describe, expect, it } from 'vitest';
import { compileGlobs, globMatches } from '../../../src/domain/policy/glob.js';

describe('globMatches', () => {
  it.each([
    ['payments', 'payments', true],
    ['payments', 'payments-2', false],
    ['pay*', 'payments', true],
    ['pay*', 'pay', true],
    ['pay*', 'repay', false],
    ['*-prod', 'eu-prod', true],
    ['*-prod', 'eu-prod-2', false],
    ['team-*-api', 'team-a-api', true],
    ['team-*-api', 'team--api', true],
    ['team-*-api', 'team-a-web', false],
    ['*', '', true],
    ['*', 'system:serviceaccount:ci:deployer', true],
    ['system:serviceaccount:ci:*', 'system:serviceaccount:ci:deployer', true],
    ['system:serviceaccount:ci:*', 'system:serviceaccount:cd:deployer', false],
    // Regex metacharacters are literal: only * is special.
    ['a.b', 'axb', false],
    ['a.b', 'a.b', true],
    ['(x)+', '(x)+', true],
    ['(x)+', 'xx', false],
    ['a?c', 'abc', false],
    ['a*c', 'a\nc', true],
  ])('%s against %j is %s', (pattern, value, expected) => {
    expect(globMatches(pattern, value)).toBe(expected);
  });
});

describe('compileGlobs', () => {
  it.each([
    [['payments'], 'payments', true],
    [['payments'], 'orders', false],
    [['payments', 'orders'], 'orders', true],
    [['payments', 'orders'], 'billing', false],
    [['team-*', 'shared'], 'team-a', true],
    [['team-*', 'shared'], 'shared', true],
    [['team-*', 'shared'], 'sharedx', false],
    [['team-*', 'ops-*'], 'ops-1', true],
    [['team-*', 'ops-*'], 'dev-1', false],
    [['*-prod', 'x'], 'eu-prod', true],
    [['*-prod', 'eu-*-a'], 'eu-1-a', true],
    [['*-prod', 'eu-*-a'], 'eu-1-b', false],
    [['x', '*'], 'anything', true],
    [[], 'anything', false],
    [[], '', false],
  ])('%j against %j is %s', (patterns, value, expected) => {
    expect(compileGlobs(patterns)(value)).toBe(expected);
  });
});
