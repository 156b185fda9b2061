import { describe, expect, it } from 'vitest';
import { describeSelector, selectorMatches } from '../../../src/domain/policy/label-selector.js';
import type { LabelSelector } from '../../../src/domain/policy/types.js';

const labels = { team: 'payments', tier: 'backend', pci: '' };

describe('selectorMatches (Kubernetes semantics)', () => {
  it.each<[string, LabelSelector, boolean]>([
    ['empty selector selects everything', {}, true],
    ['matchLabels equal', { matchLabels: { team: 'payments' } }, true],
    ['matchLabels different value', { matchLabels: { team: 'orders' } }, false],
    ['matchLabels absent key', { matchLabels: { env: 'prod' } }, false],
    ['matchLabels empty value present', { matchLabels: { pci: '' } }, true],
    ['matchLabels all must hold', { matchLabels: { team: 'payments', tier: 'frontend' } }, false],
    [
      'In with the value',
      { matchExpressions: [{ key: 'tier', operator: 'In', values: ['backend', 'db'] }] },
      true,
    ],
    ['In without the value', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['db'] }] }, false],
    ['In with key absent', { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] }, false],
    [
      'NotIn with the value',
      { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['backend'] }] },
      false,
    ],
    [
      'NotIn without the value',
      { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] },
      true,
    ],
    [
      'NotIn with key absent holds',
      { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] },
      true,
    ],
    ['Exists present', { matchExpressions: [{ key: 'pci', operator: 'Exists' }] }, true],
    ['Exists absent', { matchExpressions: [{ key: 'env', operator: 'Exists' }] }, false],
    ['DoesNotExist absent holds', { matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, true],
    ['DoesNotExist present', { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, false],
    [
      'matchLabels AND matchExpressions: one failing fails',
      {
        matchLabels: { team: 'payments' },
        matchExpressions: [{ key: 'tier', operator: 'In', values: ['db'] }],
      },
      false,
    ],
    [
      'matchLabels AND matchExpressions: all holding',
      {
        matchLabels: { team: 'payments' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['backend'] },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      },
      true,
    ],
  ])('%s', (_name, selector, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });

  it('does not take inherited properties for labels', () => {
    expect(selectorMatches({ matchExpressions: [{ key: 'toString', operator: 'Exists' }] }, {})).toBe(false);
    expect(
      selectorMatches({ matchExpressions: [{ key: 'constructor', operator: 'DoesNotExist' }] }, {}),
    ).toBe(true);
  });

  it('describes selectors the way kubectl -l writes them', () => {
    expect(
      describeSelector({
        matchLabels: { team: 'payments' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['a', 'b'] },
          { key: 'x', operator: 'NotIn', values: ['c'] },
          { key: 'pci', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      }),
    ).toBe('team=payments,tier in (a,b),x notin (c),pci,!legacy');
    expect(describeSelector({})).toBe('(everything)');
  });
});
