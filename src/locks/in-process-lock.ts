import { LockError } from '../errors/index.js';
import type { LockHolder, ExclusiveLock, LockPurpose } from './exclusive-lock.js';

/** One lock name's state in this process: whether someone holds it, and who waits for it, first come first served. */
interface Slot {
  held: boolean;
  readonly waiters: (() => void)[];
}

const slots = new Map<string, Slot>();

/**
 * For the embedded database: its directory belongs to one process (ProcessDirLock), so runners can only race
 * inside this process, and a mutex is the whole lock. A waiter gives up after its timeout, like every other lock.
 */
export class InProcessLock implements ExclusiveLock {
  readonly kind = 'in-process lock (embedded database)';
  readonly leased = false;
  readonly #slot: Slot;
  readonly #purpose: LockPurpose;
  #held = false;

  constructor(name: string, purpose: LockPurpose = { resource: name, holder: 'holder' }) {
    let slot = slots.get(name);
    if (!slot) slots.set(name, (slot = { held: false, waiters: [] }));
    this.#slot = slot;
    this.#purpose = purpose;
  }

  async acquire(timeoutMs: number): Promise<void> {
    const slot = this.#slot;
    if (slot.held) {
      const holder = await this.holder();
      await new Promise<void>((resolve, reject) => {
        const grant = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          slot.waiters.splice(slot.waiters.indexOf(grant), 1);
          reject(new LockError('timeout', this.#purpose.resource, `another ${this.#purpose.holder} holds the lock (${this.kind}) and did not release it within ${timeoutMs} ms: ${holder?.description ?? 'holder unknown'}. Wait for it to finish`));
        }, timeoutMs);
        slot.waiters.push(grant);
      });
    }
    // Either free, or handed over by release() with `held` still set, so that no one can slip in between.
    slot.held = true;
    this.#held = true;
  }

  assertHeld(): void {}

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    const next = this.#slot.waiters.shift();
    if (next) next();
    else this.#slot.held = false;
  }

  async holder(): Promise<LockHolder | undefined> {
    return this.#slot.held ? { description: `this process (${process.pid})`, since: undefined } : undefined;
  }

  async forceRelease(): Promise<LockHolder | undefined> {
    return this.holder();
  }
}
