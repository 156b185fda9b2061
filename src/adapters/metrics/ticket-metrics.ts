import { Counter, Gauge, type Registry } from 'prom-client';

/** Ticket systems as Elevate sees them: lookups by outcome, and whether each answered last time. */
export function createTicketMetrics(registry: Registry) {
  const lookups = new Counter({
    name: 'elevate_ticket_lookups_total',
    help: 'Ticket lookups by provider and outcome (ok, error: down, slow, refused credentials or garbage)',
    labelNames: ['provider', 'outcome'],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'elevate_ticket_provider_errors_total',
    help: 'Ticket lookups a provider could not answer',
    labelNames: ['provider'],
    registers: [registry],
  });
  const up = new Gauge({
    name: 'elevate_ticket_provider_up',
    help: '1 when the provider answered its last lookup, 0 when it could not',
    labelNames: ['provider'],
    registers: [registry],
  });
  return {
    ticketLookup(provider: string, outcome: 'ok' | 'error'): void {
      lookups.inc({ provider, outcome });
      if (outcome === 'error') errors.inc({ provider });
      up.set({ provider }, outcome === 'ok' ? 1 : 0);
    },
  };
}
