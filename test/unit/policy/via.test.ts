import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/domain/policy/decide.js';
import { facts, input, policy, policySet } from './fixtures.js';

const set = policySet([
  policy('servicenow-auto', { match: { via: ['servicenow'] }, decision: 'auto' }),
  policy('anyone-needs-approval', {
    decision: 'approval',
    approval: {
      approvers: { users: ['bob'], groups: [] },
      required: 1,
      timeoutMs: 60_000,
      denyEnds: true,
      requireComment: false,
    },
  }),
]);

describe('match.via', () => {
  it('matches a request made through a listed integration', () => {
    const d = decide(set, input({ via: 'servicenow' }), facts());
    expect(d.outcome).toBe('auto');
    expect(d.policy?.name).toBe('servicenow-auto');
  });

  it('does not match a request made directly, and the trace says so', () => {
    const d = decide(set, input(), facts());
    expect(d.policy?.name).toBe('anyone-needs-approval');
    expect(d.trace[0]).toMatchObject({
      policy: 'servicenow-auto',
      result: 'skipped',
      matcher: 'via',
      reason: 'the request was made directly, not through servicenow',
    });
  });

  it('does not match a request made through another integration', () => {
    const d = decide(set, input({ via: 'jira' }), facts());
    expect(d.policy?.name).toBe('anyone-needs-approval');
    expect(d.trace[0]?.reason).toBe('the request was made through jira, not through servicenow');
  });

  it('a policy without via matches either way', () => {
    expect(decide(set, input({ via: 'jira' }), facts()).outcome).toBe('approval');
    expect(decide(set, input(), facts()).outcome).toBe('approval');
  });
});
