import { composeElevate, createLogger } from './composition-root.js';
import { loadConfig } from './config/load-config.js';

/** Runs the Elevate server until SIGINT/SIGTERM. */
export async function runServer(configPath: string): Promise<void> {
  const config = loadConfig(configPath);
  const logger = createLogger(config.logLevel);
  const elevate = await composeElevate(config, logger);
  await elevate.start();
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await elevate.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
