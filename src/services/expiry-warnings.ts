import { requestEvent, systemActor } from '../domain/audit-event.js';
import type { Clock } from '../domain/clock.js';
import { formatDuration } from '../domain/duration.js';
import { grantExpiringSoon } from '../domain/notification.js';
import type { Store } from './ports.js';

/**
 * Writes GrantExpiringSoon, once per grant and expiry, when an Active grant comes within `leadMs` of its
 * end (notifications' grant.expiring goes from there). An extension moves the expiry, and the grant is
 * warned again before its new end. A grant no longer than the lead is not warned: it began knowing its end.
 */
export function createExpiryWarnings(deps: {
  store: Pick<Store, 'listRequests' | 'listAuditForRequest' | 'appendAudit'>;
  clock: Clock;
  leadMs: number;
}) {
  /** Grants warned (id@expiresAt), so a pass reads the trail only for grants it has not yet seen warned. */
  const warned = new Set<string>();

  return {
    /** One pass; resolves to the number of warnings written. */
    async warnDue(): Promise<number> {
      const now = deps.clock.now();
      const active = await deps.store.listRequests({ phases: ['Active'] });
      const live = new Set<string>();
      let written = 0;
      for (const r of active) {
        const grant = r.grant;
        if (!grant) continue;
        const expiresAt = grant.expiresAt.toISOString();
        const key = `${r.id}@${expiresAt}`;
        live.add(key);
        const left = grant.expiresAt.getTime() - now.getTime();
        if (left <= 0 || left > deps.leadMs || warned.has(key)) continue;
        if (grant.expiresAt.getTime() - grant.activatedAt.getTime() <= deps.leadMs) continue;
        // After a restart or a change of leader, the trail says whether this expiry was already warned.
        const trail = await deps.store.listAuditForRequest(r.id);
        const done = trail.some((e) => e.action === grantExpiringSoon && e.details.expiresAt === expiresAt);
        if (!done) {
          await deps.store.appendAudit([
            requestEvent(r, systemActor, grantExpiringSoon, now, {
              expiresAt,
              in: formatDuration(Math.round(left / 1000) * 1000),
            }),
          ]);
          written++;
        }
        warned.add(key);
      }
      for (const key of warned) if (!live.has(key)) warned.delete(key);
      return written;
    },
  };
}
