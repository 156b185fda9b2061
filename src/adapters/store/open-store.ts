import type { StorageConfig } from '../../config/load-config.js';
import type { Store } from '../../services/ports.js';

/** Opens the configured store; each dialect's driver is loaded only when used. */
export async function openStore(storage: StorageConfig): Promise<Store> {
  if (storage.kind === 'postgres') {
    const { openPostgresStore } = await import('./postgres-store.js');
    return openPostgresStore(storage.url);
  }
  const { openSqliteStore } = await import('./sqlite-store.js');
  return openSqliteStore(storage.path);
}
