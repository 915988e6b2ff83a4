import { AuthenticationError, CircuitOpenError, ConnectionError, DatakeepError, TimeoutError } from '../errors/index.js';

/** Documented exit codes (docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** The command ran and found a failure: an unhealthy database, a rejected statement, a failed check. */
  failed: 1,
  /** Bad usage or configuration, including credentials the server refused: nothing was attempted. */
  usage: 2,
  /** A database could not be reached. */
  unreachable: 3,
} as const;

/**
 * Errors of the library that say an argument or the configuration is wrong and that nothing was done, by stable code
 * and reason: the fix is to change the command line, so they exit like a usage error.
 */
const USAGE_REASONS: Readonly<Record<string, readonly string[]>> = {
  // migrate down|plan --to a version no file or record has
  DK_MIGRATION: ['unknown-version'],
  // restore --to a non-empty directory or a running cluster's; a recovery target outside the recoverable window
  DK_BACKUP: ['unsafe-destination', 'target-unreachable'],
  // --dest/--repo that is no repository; a passphrase that does not unlock it; a bad argument
  DK_REPOSITORY: ['not-a-repository', 'wrong-passphrase', 'invalid-argument'],
};

export function exitCodeFor(error: unknown): number {
  if (!(error instanceof DatakeepError)) return EXIT.failed;
  if (error.code === 'DK_CONFIG' || error.code === 'DK_USAGE' || error.code === 'DK_UNKNOWN_ADAPTER') return EXIT.usage;
  // The server answered: it is reachable, and the credentials in the configuration are what must change.
  if (error instanceof AuthenticationError) return EXIT.usage;
  if (error instanceof ConnectionError || error instanceof CircuitOpenError || (error instanceof TimeoutError && error.kind === 'connect')) return EXIT.unreachable;
  const reason = (error as { reason?: unknown }).reason;
  if (typeof reason === 'string' && USAGE_REASONS[error.code]?.includes(reason)) return EXIT.usage;
  return EXIT.failed;
}
