import { AsyncMutex } from './async-mutex.js';
import type { LockHolder, ExclusiveLock } from './exclusive-lock.js';

const mutexes = new Map<string, AsyncMutex>();

/**
 * For the embedded database: its directory belongs to one process (ProcessDirLock), so runners can only race
 * inside this process, and a mutex is the whole lock.
 */
export class InProcessLock implements ExclusiveLock {
  readonly kind = 'in-process lock (embedded database)';
  readonly leased = false;
  #release: (() => void) | undefined;
  readonly #mutex: AsyncMutex;

  constructor(name: string) {
    let mutex = mutexes.get(name);
    if (!mutex) mutexes.set(name, (mutex = new AsyncMutex()));
    this.#mutex = mutex;
  }

  async acquire(): Promise<void> {
    this.#release = await this.#mutex.lock();
  }

  assertHeld(): void {}

  async release(): Promise<void> {
    this.#release?.();
    this.#release = undefined;
  }

  async holder(): Promise<LockHolder | undefined> {
    return this.#mutex.held ? { description: `this process (${process.pid})`, since: undefined } : undefined;
  }

  async forceRelease(): Promise<LockHolder | undefined> {
    return this.holder();
  }
}
