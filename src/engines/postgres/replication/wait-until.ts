import { ReplicationError } from '../../../errors/replication-error.js';
import { messageOf } from './node-session.js';

const FINAL = new Set(['not-a-replica', 'not-a-primary', 'refused', 'local-only']);

/**
 * Polls `probe` until it returns a value other than undefined, for at most `timeoutMs`; then a ReplicationError
 * 'timeout' naming the node, the step and the last thing seen (a probe's error or its `lastSeen` state). A
 * ReplicationError for a wrong role or a refusal ends the wait at once.
 */
export async function waitUntil<T>(
  probe: () => Promise<T | undefined>,
  options: { node: string; step: string; timeoutMs: number; intervalMs?: number; lastSeen?: () => string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last = 'nothing yet';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = options.lastSeen?.() ?? 'not yet';
    } catch (error) {
      // A wrong role or a refusal does not get better by waiting.
      if (error instanceof ReplicationError && FINAL.has(error.reason)) throw error;
      last = messageOf(error);
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new ReplicationError('timeout', `${options.node}: ${options.step} did not happen within ${options.timeoutMs} ms (last: ${last})`, { node: options.node, step: options.step });
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.intervalMs ?? 100, left)));
  }
}

/** What is left of a budget that started at `start`, at least 1 ms so a spent budget still fails with a timeout. */
export function remaining(start: number, timeoutMs: number): number {
  return Math.max(1, timeoutMs - (Date.now() - start));
}
