import { systemActor } from '../domain/audit-event.js';
import { type BreakglassMode, modeInForce } from '../domain/breakglass.js';
import type { Clock } from '../domain/clock.js';
import { formatDuration } from '../domain/duration.js';
import { Forbidden, Invalid } from '../domain/errors.js';
import type { Identity } from '../domain/identity.js';
import type { Store } from './ports.js';

/** The longest the mode may be switched on for at once: it is re-asked for, not left on by mistake. */
export const maxModeMs = 24 * 3_600_000;

export interface ModeState extends BreakglassMode {
  /** In force now (on, and before `until`). */
  inForce: boolean;
}

export interface BreakglassModeDeps {
  store: Pick<Store, 'getBreakglassMode' | 'saveBreakglassMode'>;
  isAdmin: (who: Identity) => boolean;
  clock: Clock;
}

/**
 * Ticket-system-down mode (OpenUnison's fleet-wide switch, made safe): while it is in force ticket
 * requirements are waived, every grant made is flagged and gets a review, and it turns itself off at its
 * end. Stored, so every server sees the same switch.
 */
export function createBreakglassModeService(deps: BreakglassModeDeps) {
  const { store, clock } = deps;
  const stateOf = (mode: BreakglassMode): ModeState => ({ ...mode, inForce: modeInForce(mode, clock.now()) });
  const event = (actor: string, action: string, details: Record<string, unknown>) => ({
    time: clock.now(),
    actor,
    action,
    requestId: null,
    cluster: null,
    details,
  });

  function requireAdmin(who: Identity): void {
    if (!deps.isAdmin(who))
      throw new Forbidden('only an admin (auth.admins) may switch ticket-system-down mode');
  }

  return {
    async status(): Promise<ModeState> {
      return stateOf(await store.getBreakglassMode());
    },

    async turnOn(who: Identity, forMs: number, reason: string): Promise<ModeState> {
      requireAdmin(who);
      if (reason.trim() === '') throw new Invalid('a reason is required', 'reason');
      if (forMs <= 0 || forMs > maxModeMs) {
        // Forbidden, like a request's duration outside the configured bounds: well formed, not allowed.
        throw new Forbidden(
          `the mode lasts more than 0 and at most ${formatDuration(maxModeMs)}; switch it on again to go on`,
          'for',
        );
      }
      const current = await store.getBreakglassMode();
      const now = clock.now();
      const until = new Date(now.getTime() + forMs);
      // Switched on again while on: it goes on from its first start, with the new end.
      const since = modeInForce(current, now) ? (current.since ?? now) : now;
      const next: BreakglassMode = { ...current, on: true, since, until, by: who.user, reason };
      const saved = await store.saveBreakglassMode(next, [
        event(who.user, 'BreakGlassModeOn', { until: until.toISOString(), reason, severity: 'high' }),
      ]);
      return stateOf(saved);
    },

    async turnOff(who: Identity, reason: string | null): Promise<ModeState> {
      requireAdmin(who);
      const current = await store.getBreakglassMode();
      if (!current.on) return stateOf(current);
      return stateOf(await switchOff(current, who.user, reason ?? 'turned off'));
    },

    /** The leader's check: a mode past its end is recorded off (it stopped counting at `until` already). */
    async expireIfDue(): Promise<boolean> {
      const current = await store.getBreakglassMode();
      if (!current.on || current.until === null || clock.now() < current.until) return false;
      await switchOff(current, systemActor, 'expired');
      return true;
    },
  };

  function switchOff(current: BreakglassMode, by: string, reason: string) {
    return store.saveBreakglassMode({ ...current, on: false }, [
      event(by, 'BreakGlassModeOff', { by, reason, since: current.since?.toISOString() ?? null }),
    ]);
  }
}

export type BreakglassModeService = ReturnType<typeof createBreakglassModeService>;
