import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/domain/policy/decide.js';
import type { Policy, TicketFacts } from '../../../src/domain/policy/types.js';
import type { TicketState } from '../../../src/domain/ticket.js';
import { facts, HOUR, input, MINUTE, policy, policySet } from './fixtures.js';

const now = new Date('2026-05-06T10:00:00Z');
const snow = (over: Partial<Policy['requireTicket']> = {}): Partial<Policy> => ({
  requireTicket: { pattern: '^INC', provider: 'snow', ...over },
});

function state(over: Partial<TicketState> = {}): TicketState {
  return {
    id: 'INC0010001',
    found: true,
    open: true,
    status: 'In Progress (state 2)',
    assignees: ['alice@example.com'],
    notBefore: null,
    notAfter: null,
    ...over,
  };
}

const looked = (over: Partial<TicketState> = {}): TicketFacts => ({ provider: 'snow', state: state(over) });

function decideWith(p: Partial<Policy>, ticket: TicketFacts | undefined, over = {}) {
  return decide(
    policySet([policy('p', p)]),
    input({ requester: 'alice@example.com', ticket: 'INC0010001', durationMs: 2 * HOUR, ...over }),
    facts({ now, ...(ticket ? { ticket } : {}) }),
  );
}

describe('a ticket judged with its provider', () => {
  it.each<[string, TicketFacts, string]>([
    ['missing', looked({ found: false }), 'ticket INC0010001 in snow does not exist'],
    ['resolved', looked({ open: false, status: 'Resolved (state 6)' }), 'is not open (Resolved (state 6))'],
    [
      'before its window',
      looked({ notBefore: new Date('2026-05-06T12:00:00Z') }),
      'is not in its window yet: it starts 2026-05-06T12:00:00.000Z',
    ],
    ['after its window', looked({ notAfter: new Date('2026-05-06T09:00:00Z') }), 'window ended'],
    [
      'unavailable',
      { provider: 'snow', unavailable: 'timed out after 5s' },
      'ticket provider snow cannot check ticket INC0010001 now (timed out after 5s)',
    ],
  ])('refuses a ticket %s, naming it', (_name, ticket, message) => {
    const d = decideWith(snow(), ticket);
    expect(d.outcome).toBe('refused');
    expect(d.refusal).toMatchObject({ kind: 'constraint', field: 'spec.ticket' });
    expect(d.refusal?.message).toContain(message);
  });

  it('names the way out when the provider is down', () => {
    const d = decideWith(snow(), { provider: 'snow', unavailable: 'connection refused' });
    expect(d.refusal?.message).toContain('elevate breakglass');
  });

  it('requires the assignment only when asked, matching e-mail case-insensitively', () => {
    const bob = looked({ assignees: ['bob@example.com'] });
    expect(decideWith(snow(), bob).outcome).toBe('auto');
    const d = decideWith(snow({ assignedToRequester: true }), bob);
    expect(d.refusal?.message).toContain('is assigned to bob@example.com, not to alice@example.com');
    const upper = looked({ assignees: ['ALICE@example.com'] });
    expect(decideWith(snow({ assignedToRequester: true }), upper).outcome).toBe('auto');
    const nobody = looked({ assignees: [] });
    expect(decideWith(snow({ assignedToRequester: true }), nobody).refusal?.message).toContain(
      'is assigned to nobody',
    );
  });

  it('grants with a valid open ticket', () => {
    const d = decideWith(snow(), looked());
    expect(d.outcome).toBe('auto');
    expect(d.durationMs).toBe(2 * HOUR);
  });

  it('cuts the duration so the grant ends with the ticket window, and says so', () => {
    const d = decideWith(snow(), looked({ notAfter: new Date('2026-05-06T10:45:30.500Z') }));
    expect(d.outcome).toBe('auto');
    expect(d.durationMs).toBe(45 * MINUTE + 30_000);
    expect(d.notes.join('\n')).toContain('duration cut from 2h to 45m30s');
  });

  it('counts the window from a scheduled start', () => {
    const d = decideWith(snow(), looked({ notAfter: new Date('2026-05-06T12:00:00Z') }), {
      startTime: new Date('2026-05-06T11:30:00Z'),
    });
    expect(d.durationMs).toBe(30 * MINUTE);
  });

  it('refuses when less than the minimum duration is left in the window', () => {
    const d = decideWith(snow(), looked({ notAfter: new Date('2026-05-06T10:00:30Z') }));
    expect(d.refusal?.message).toContain('less than the minimum 1m of access is left');
  });

  it('notes a ticket it could not check (offline explain) instead of refusing', () => {
    const d = decideWith(snow(), undefined);
    expect(d.outcome).toBe('auto');
    expect(d.notes).toContain('ticket INC0010001 not checked with provider snow (offline)');
  });

  it('waives every ticket requirement in ticket-system-down mode, and notes it', () => {
    const d = decideWith(snow(), undefined, { ticket: null, ticketsWaived: true });
    expect(d.outcome).toBe('auto');
    expect(d.notes).toContain('ticket requirement of policy p waived: ticket-system-down mode is on');
  });

  it('still checks the pattern before asking the provider', () => {
    const d = decideWith(snow(), looked(), { ticket: 'OPS-1' });
    expect(d.refusal?.message).toContain('does not match /^INC/');
  });
});
