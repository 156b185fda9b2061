import type { Lease } from '../../services/ports.js';

/** With SQLite there is one server per database file, so it always leads. */
export const soleLease: Lease = {
  async start(onChange) {
    await onChange(true);
  },
  async stop() {},
};
