import { DatakeepError } from './datakeep-error.js';

export type RepositoryErrorReason =
  | 'wrong-passphrase'
  | 'not-a-repository'
  | 'already-exists'
  | 'unsupported-format'
  | 'corrupt-object'
  | 'missing-object'
  | 'backup-not-found'
  | 'wal-conflict'
  | 'lock-timeout'
  | 'invalid-argument'
  | 'closed';

/** The backup repository refused or failed an operation. `reason` is stable; the message names the object and the fix. */
export class RepositoryError extends DatakeepError {
  readonly reason: RepositoryErrorReason;
  /** The repository object (storage key, backup id or WAL name) concerned, when there is one. */
  readonly object: string | undefined;
  /** lock-timeout: who holds the lock (process, host, what for, since when). */
  readonly holder: { readonly pid: number; readonly host: string; readonly purpose: string; readonly since: string } | undefined;

  constructor(reason: RepositoryErrorReason, message: string, options: { object?: string; cause?: unknown; holder?: RepositoryError['holder'] } = {}) {
    super('DK_REPOSITORY', message, options);
    this.reason = reason;
    this.object = options.object;
    this.holder = options.holder;
  }
}
