/** Who holds a migration lock, as far as the engine can tell. */
export interface LockHolder {
  readonly description: string;
  readonly since: Date | undefined;
}

/**
 * Mutual exclusion between migration runners on one database. Every implementation fails safe: a session lock dies
 * with its session, a lease expires; a crashed runner never leaves a lock that needs manual SQL.
 */
export interface MigrationLock {
  readonly kind: string;
  /** Waits up to `timeoutMs`; throws MigrationLockTimeoutError naming the holder. */
  acquire(timeoutMs: number): Promise<void>;
  /** Throws if the lock was lost (a lease that could not be renewed); checked before each migration. */
  assertHeld(): void;
  release(): Promise<void>;
  /** The current holder, or undefined when free. */
  holder(): Promise<LockHolder | undefined>;
  /** Removes a lock left behind (leases only; session locks cannot be stuck). Returns what was removed. */
  forceRelease(): Promise<LockHolder | undefined>;
}
