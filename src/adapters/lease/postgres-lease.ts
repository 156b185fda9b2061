import pg from 'pg';
import type { Lease } from '../../services/ports.js';

// Session-level advisory lock key; must differ from the audit chain's transaction-level key.
const leaseLockKey = 7_304_812;

/**
 * A lease held as a PostgreSQL session advisory lock on a dedicated connection: it is released the moment
 * that connection dies, so a crashed leader's jobs move to another server within one renewal interval.
 * During that interval two servers may both run jobs; every write is still checked (versions, the audit
 * lock), so that costs duplicate work, not correctness.
 */
export function createPostgresLease(url: string, renewEveryMs = 1000): Lease {
  let client: pg.Client | null = null;
  let held = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function holdsLease(): Promise<boolean> {
    try {
      if (!client) {
        const fresh = new pg.Client({ connectionString: url });
        // A dropped connection surfaces at the next query; without a listener it would crash the process.
        fresh.on('error', () => {});
        await fresh.connect();
        client = fresh;
      }
      if (held) {
        await client.query('select 1');
        return true;
      }
      const result = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [
        leaseLockKey,
      ]);
      return result.rows[0]?.ok === true;
    } catch {
      const broken = client;
      client = null;
      await broken?.end().catch(() => {});
      return false;
    }
  }

  return {
    async start(onChange) {
      const tick = async () => {
        const now = await holdsLease();
        if (now !== held && !stopped) {
          held = now;
          await onChange(held);
        }
      };
      await tick();
      const loop = () => {
        timer = setTimeout(async () => {
          if (stopped) return;
          await tick();
          loop();
        }, renewEveryMs);
      };
      loop();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      held = false;
      // Closing the session releases the advisory lock at once.
      await client?.end().catch(() => {});
      client = null;
    },
  };
}
