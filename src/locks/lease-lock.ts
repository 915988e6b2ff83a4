import { LockError } from '../errors/index.js';
import { sleep } from '../resilience/backoff.js';
import { describeOwner, newLockOwner } from './lock-owner.js';
import type { ExclusiveLock, LockHolder, LockPurpose } from './exclusive-lock.js';

/** Storage of one lease: each operation is a single atomic statement or script on its engine. */
export interface LeaseStore {
  readonly kind: string;
  /** Takes the lease if it is free or expired; true when `token` now holds it. */
  tryAcquire(token: string, ttlMs: number): Promise<boolean>;
  /** Extends the lease only if `token` still holds it. */
  renew(token: string, ttlMs: number): Promise<boolean>;
  /** Deletes the lease only if `token` holds it (compare-and-delete). */
  release(token: string): Promise<void>;
  current(): Promise<string | undefined>;
  /** Deletes whatever lease exists; returns its owner token. */
  forceDelete(): Promise<string | undefined>;
}

/**
 * A lock made of an expiring lease with an owner token, renewed every third of its TTL while held. A runner that
 * crashes stops renewing, so its lease expires and the next runner proceeds without manual steps. If a renewal
 * fails, the lock counts as lost and the runner stops before its next migration.
 */
export class LeaseLock implements ExclusiveLock {
  readonly kind: string;
  readonly leased = true;
  #token: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lost: unknown;

  constructor(
    private readonly store: LeaseStore,
    private readonly purpose: LockPurpose,
    private readonly ttlMs: number,
  ) {
    this.kind = store.kind;
  }

  async acquire(timeoutMs: number): Promise<void> {
    const { token } = newLockOwner();
    const deadline = Date.now() + timeoutMs;
    let delay = 50;
    while (!(await this.store.tryAcquire(token, this.ttlMs))) {
      if (Date.now() >= deadline) {
        const holder = await this.holder();
        throw new LockError('timeout', this.purpose.resource, `another ${this.purpose.holder} holds the lock (${this.kind}) and did not release it within ${timeoutMs} ms: ${holder ? `${holder.description}${holder.since ? ` since ${holder.since.toISOString()}` : ''}` : 'holder unknown'}. Wait for it, or if it is gone, its lease expires within ${this.ttlMs} ms`);
      }
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
      delay = Math.min(delay * 2, 1000);
    }
    this.#token = token;
    this.#lost = undefined;
    this.#timer = setInterval(() => {
      this.store.renew(token, this.ttlMs).then(
        (ok) => {
          if (!ok) this.#lost ??= new Error('the lease was taken over or deleted');
        },
        (error: unknown) => {
          this.#lost ??= error;
        },
      );
    }, Math.max(100, Math.floor(this.ttlMs / 3)));
    this.#timer.unref();
  }

  assertHeld(): void {
    if (!this.#token) throw new LockError('lost', this.purpose.resource, 'the lock is not held');
    if (this.#lost) {
      throw new LockError('lost', this.purpose.resource, `the lock (${this.kind}) could not be renewed, so another ${this.purpose.holder} may hold it now; stopping before the next step`, { cause: this.#lost });
    }
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    const token = this.#token;
    this.#token = undefined;
    if (token) await this.store.release(token);
  }

  async holder(): Promise<LockHolder | undefined> {
    const token = await this.store.current();
    return token === undefined ? undefined : describeOwner(token);
  }

  async forceRelease(): Promise<LockHolder | undefined> {
    const token = await this.store.forceDelete();
    return token === undefined ? undefined : describeOwner(token);
  }
}
