import { ConnectionError, DatakeepError, TimeoutError, CircuitOpenError } from '../errors/index.js';

/** Documented exit codes (docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** The command ran and found a failure: an unhealthy database, a rejected statement, a failed check. */
  failed: 1,
  /** Bad usage or configuration: nothing was attempted. */
  usage: 2,
  /** A database could not be reached. */
  unreachable: 3,
} as const;

export function exitCodeFor(error: unknown): number {
  if (error instanceof DatakeepError) {
    if (error.code === 'DK_CONFIG' || error.code === 'DK_USAGE' || error.code === 'DK_UNKNOWN_ADAPTER') return EXIT.usage;
    if (error instanceof ConnectionError || error instanceof CircuitOpenError || (error instanceof TimeoutError && error.kind === 'connect')) return EXIT.unreachable;
  }
  return EXIT.failed;
}
