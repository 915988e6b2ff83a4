/** Who holds a lock, as far as the engine can tell. */
export interface LockHolder {
  readonly description: string;
  readonly since: Date | undefined;
}

/**
 * Mutual exclusion between processes over one resource (migrations of a database, a scheduled job, a lifecycle
 * policy). Every implementation fails safe: a session lock dies with its session, a lease expires; a crashed holder
 * never leaves a lock that needs manual SQL. Failures are LockErrors (`timeout` naming the holder, `lost`).
 */
export interface ExclusiveLock {
  readonly kind: string;
  /**
   * True for leases, which a crashed holder leaves behind until they expire (so `forceRelease` can remove one); false
   * for session locks, which end with their session and cannot be stuck.
   */
  readonly leased: boolean;
  /** Waits up to `timeoutMs`; throws LockError('timeout') naming the holder. */
  acquire(timeoutMs: number): Promise<void>;
  /** Throws LockError('lost') if the lock was lost (a lease that could not be renewed); checked before each step. */
  assertHeld(): void;
  release(): Promise<void>;
  /** The current holder, or undefined when free. */
  holder(): Promise<LockHolder | undefined>;
  /** Removes a lock left behind (leases only; session locks cannot be stuck). Returns what was removed. */
  forceRelease(): Promise<LockHolder | undefined>;
}

/** What a lock is for, in its messages: `resource` names what it protects, `holder` what kind of process holds it. */
export interface LockPurpose {
  readonly resource: string;
  /** e.g. "migration runner"; messages read "another migration runner holds ...". */
  readonly holder: string;
}
