import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { Lease } from '../../services/ports.js';

// Session-level advisory lock key; must differ from the audit chain's transaction-level key.
const leaseLockKey = 7_304_812;

export interface LeaseTiming {
  /** How often the holder confirms its session (and a follower tries to take the lease). */
  checkEveryMs: number;
  /** The holder stops leading when no check sent within this long has been answered. */
  confirmWithinMs: number;
  /**
   * How long PostgreSQL waits before it drops a session that went silent (idle_session_timeout,
   * tcp_user_timeout), releasing its lock; no other server can take the lease sooner.
   */
  serverDropsAfterMs: number;
}

/**
 * The arithmetic that keeps two leaders apart. A check sent at time t reaches the server after t, so the
 * server hears from the holder at some time >= t and cannot drop the session (and with it the lock) before
 * t + serverDropsAfterMs: not while idle (idle_session_timeout counts from the last query), not while its
 * answers go unacknowledged (tcp_user_timeout counts from the first unacknowledged one, sent after t).
 * The holder stops leading at t + confirmWithinMs, where t is the sending time of its last answered check.
 * confirmWithinMs (4 s) < serverDropsAfterMs (8 s), so the old holder stops about 4 s before anyone else
 * can start; the margin absorbs a busy event loop and the clock-rate difference between the two hosts.
 * A crashed process is different: its kernel closes the socket, the session ends at once, and another
 * server takes over at its next check (checkEveryMs).
 */
export const defaultLeaseTiming: LeaseTiming = {
  checkEveryMs: 1000,
  confirmWithinMs: 4000,
  serverDropsAfterMs: 8000,
};

/**
 * A lease held as a PostgreSQL session advisory lock on a dedicated connection, confirmed every
 * checkEveryMs. The lock goes when the session goes: at once when the holder's process dies, within
 * serverDropsAfterMs when its host dies or is cut off. A holder that cannot confirm its session in time
 * stops leading before that (see LeaseTiming). A cluster write the old holder started just before may
 * still land afterwards; writes that matter are fenced per request (Store.lockAcrossServers).
 */
export function createPostgresLease(url: string, timing: LeaseTiming = defaultLeaseTiming): Lease {
  const { checkEveryMs, confirmWithinMs, serverDropsAfterMs } = timing;
  let client: pg.Client | null = null;
  /** The session holding the lock, while one does. */
  let locked: pg.Client | null = null;
  let checking = false;
  let held = false;
  let stopped = false;
  let report: (held: boolean) => Promise<void> = async () => {};
  let nextCheck: NodeJS.Timeout | undefined;
  let expiry: NodeJS.Timeout | undefined;

  async function connect(): Promise<pg.Client> {
    const fresh = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: confirmWithinMs / 2,
      // A check that hangs on a half-open connection fails instead of leaving the holder in doubt.
      query_timeout: confirmWithinMs / 2,
      statement_timeout: confirmWithinMs / 2,
      keepAlive: true,
      keepAliveInitialDelayMillis: checkEveryMs,
      // What PostgreSQL does with this session when the holder falls silent: without these its lock
      // would outlive a dead host by the system's TCP keepalive time (two hours by default).
      options: [
        `-c idle_session_timeout=${serverDropsAfterMs}`,
        `-c tcp_user_timeout=${serverDropsAfterMs}`,
        '-c tcp_keepalives_idle=1',
        '-c tcp_keepalives_interval=1',
        `-c tcp_keepalives_count=${Math.ceil(serverDropsAfterMs / 1000)}`,
      ].join(' '),
    });
    // A dropped connection surfaces at the next query; without a listener it would crash the process.
    fresh.on('error', () => {});
    await fresh.connect();
    return fresh;
  }

  /** Closes the lease connection without waiting: on a cut-off network a polite close could hang. */
  function drop(): void {
    const closing = client;
    client = null;
    locked = null;
    void closing?.end().catch(() => {});
  }

  /** Whether this server holds the lock now; `sentAt` is when the deciding query left. */
  async function check(): Promise<{ holds: boolean; sentAt: number }> {
    const sentAt = performance.now();
    try {
      client ??= await connect();
      const session = client;
      if (session === locked) {
        await session.query('select 1');
      } else {
        const result = await session.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [
          leaseLockKey,
        ]);
        // A session dropped while this waited has released whatever it took.
        if (result.rows[0]?.ok !== true || client !== session) return { holds: false, sentAt };
        locked = session;
      }
      // Only the session that took the lock proves anything; it may have been dropped while this waited.
      return { holds: client === session && locked === session, sentAt };
    } catch {
      drop();
      return { holds: false, sentAt };
    }
  }

  function setHeld(now: boolean): Promise<void> {
    if (now === held || stopped) return Promise.resolve();
    held = now;
    if (!now) {
      clearTimeout(expiry);
      // The session is given up too, so a connection that heals later does not keep the lock unused.
      drop();
    }
    return report(now);
  }

  /** One check, then its outcome reported; resolves when that report (a new term's catch-up) is done. */
  async function tick(): Promise<void> {
    checking = true;
    const { holds, sentAt } = await check().finally(() => (checking = false));
    if (stopped) return;
    if (holds) {
      clearTimeout(expiry);
      expiry = setTimeout(() => void setHeld(false), sentAt + confirmWithinMs - performance.now());
    }
    await setHeld(holds);
  }

  function loop(): void {
    nextCheck = setTimeout(() => {
      if (stopped) return;
      // Not awaited: checks go on while a new term catches up (which may take seconds), so a long
      // catch-up does not look like a lost session. A check still waiting for its answer is not doubled.
      if (!checking) void tick();
      loop();
    }, checkEveryMs);
  }

  return {
    async start(onChange) {
      report = async (now) => {
        try {
          await onChange(now);
        } catch {
          // The jobs report their own failures; a report must not stop the checks.
        }
      };
      const first = tick();
      loop();
      await first;
    },
    async stop() {
      stopped = true;
      clearTimeout(nextCheck);
      clearTimeout(expiry);
      held = false;
      const closing = client;
      client = null;
      locked = null;
      // Closing the session releases the advisory lock at once; a cut-off one is dropped by the server.
      await Promise.race([
        closing?.end().catch(() => {}),
        new Promise((resolve) => setTimeout(resolve, confirmWithinMs).unref()),
      ]);
    },
  };
}
