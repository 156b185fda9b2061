import { closeSync, openSync, rmSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** A lock older than this was left by a process that died holding it. */
const staleAfterMs = 30_000;
const pollMs = 50;

/**
 * Runs `fn` while holding `lockFile` (created exclusively), across processes. Used around a token refresh:
 * providers rotate refresh tokens and treat a reused one as theft, revoking the whole sign-in, so two
 * commands started together must not both spend the same refresh token.
 */
export async function withFileLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + staleAfterMs + 5_000;
  for (;;) {
    try {
      closeSync(openSync(lockFile, 'wx', 0o600));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    try {
      if (Date.now() - statSync(lockFile).mtimeMs > staleAfterMs) rmSync(lockFile, { force: true });
    } catch {
      // Released meanwhile: try again at once.
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(`${lockFile} stays locked; remove it if no elevate is running`);
    await sleep(pollMs);
  }
  try {
    return await fn();
  } finally {
    rmSync(lockFile, { force: true });
  }
}
