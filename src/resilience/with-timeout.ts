import { TaskCancelledError, timeout, TimeoutStrategy } from 'cockatiel';

/**
 * Settles with `work` or, after `timeoutMs`, rejects with the error `onTimeout` makes (cockatiel's aggressive
 * timeout: the caller gets its answer while the work may still finish in the background, so use it only where the
 * late result is harmless: a health probe, a QUIT).
 */
export async function withTimeout<T>(work: () => Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  try {
    return await timeout(timeoutMs, TimeoutStrategy.Aggressive).execute(() => work());
  } catch (error) {
    if (error instanceof TaskCancelledError) throw onTimeout();
    throw error;
  }
}
