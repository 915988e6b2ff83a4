import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { RepositoryError } from '../errors/repository-error.js';
import type { RepositoryLease, RepositoryLock, RepositoryStorage } from './repository-types.js';

/** Content of a lock file under `locks/`. */
export interface LockInfo {
  readonly mode: 'shared' | 'exclusive' | 'lease';
  readonly pid: number;
  readonly host: string;
  readonly purpose: string;
  readonly acquiredAt: string;
  readonly heartbeatAt: string;
}

export interface LockTimings {
  /** A lock whose heartbeat is older than this is stale whatever its host (default 5 minutes). */
  readonly staleAfterMs: number;
  /** How often a holder rewrites its lock file (default 30 s). */
  readonly heartbeatMs: number;
  readonly pollMs: number;
}

export const DEFAULT_LOCK_TIMINGS: LockTimings = Object.freeze({ staleAfterMs: 5 * 60_000, heartbeatMs: 30_000, pollMs: 250 });
const EXCLUSIVE_KEY = 'locks/exclusive';

/**
 * Repository locks as objects, so that object storage can hold them too: shared locks (backups, WAL-independent
 * writers) are one object each; the exclusive lock (expire, prune) is the single object `locks/exclusive`, created
 * with putIfAbsent so two exclusive takers cannot both win. Each side writes its own lock first and then looks for the
 * other: whoever comes second sees the first. A shared taker that sees an exclusive lock withdraws and waits; an
 * exclusive holder waits for the shared locks to go. Holders refresh a heartbeat; a lock is stale when its process is
 * dead on this host, or its heartbeat is older than `staleAfterMs` on any host, and stale locks are removed.
 */
export class RepositoryLocks {
  readonly #storage: RepositoryStorage;
  readonly #timings: LockTimings;
  readonly #host = hostname();

  constructor(storage: RepositoryStorage, timings: Partial<LockTimings> = {}) {
    this.#storage = storage;
    this.#timings = { ...DEFAULT_LOCK_TIMINGS, ...timings };
  }

  async acquire(mode: 'shared' | 'exclusive', purpose: string, timeoutMs = 60_000): Promise<RepositoryLock> {
    const deadline = Date.now() + timeoutMs;
    const info = (): LockInfo => ({ mode, pid: process.pid, host: this.#host, purpose, acquiredAt: now, heartbeatAt: new Date().toISOString() });
    const now = new Date().toISOString();
    const key = mode === 'exclusive' ? EXCLUSIVE_KEY : `locks/shared-${this.#host}-${process.pid}-${randomBytes(6).toString('hex')}`;
    if (mode === 'exclusive') {
      for (;;) {
        if (await this.#storage.putIfAbsent(key, encode(info()))) break;
        const holder = await this.#read(key);
        if (holder === undefined || this.#isStale(holder)) {
          await this.#removeIfUnchanged(key, holder);
          continue;
        }
        await this.#waitOrFail(deadline, holder, mode);
      }
      try {
        for (;;) {
          const sharers = await this.#liveHolders('shared');
          if (sharers.length === 0) break;
          await this.#waitOrFail(deadline, sharers[0]!, mode);
        }
      } catch (error) {
        await this.#storage.delete(key);
        throw error;
      }
    } else {
      for (;;) {
        await this.#storage.put(key, encode(info()));
        const exclusive = await this.#read(EXCLUSIVE_KEY);
        if (exclusive === undefined) break;
        if (this.#isStale(exclusive)) {
          await this.#removeIfUnchanged(EXCLUSIVE_KEY, exclusive);
          break;
        }
        await this.#storage.delete(key);
        await this.#waitOrFail(deadline, exclusive, mode);
      }
    }
    const timer = setInterval(() => void this.#storage.put(key, encode(info())).catch(() => undefined), this.#timings.heartbeatMs);
    timer.unref();
    let released = false;
    return {
      mode,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        await this.#storage.delete(key);
      },
    };
  }

  /**
   * A named lease (`locks/lease-NAME`), created with putIfAbsent like the exclusive lock but independent of the
   * shared/exclusive pair: it orders processes doing the same task, not backups against prune. Its heartbeat checks
   * that the object still names this holder before renewing it; if another process replaced it, `lost` aborts and the
   * heartbeat stops, and release() leaves the other's object alone.
   */
  async lease(name: string, purpose: string, options: { timeoutMs?: number; staleAfterMs?: number } = {}): Promise<RepositoryLease> {
    if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,99}$/.test(name)) throw new RepositoryError('invalid-argument', `lease name ${JSON.stringify(name)} is invalid: use letters, digits and dashes`);
    const key = `locks/lease-${name}`;
    const staleAfterMs = options.staleAfterMs ?? 60_000;
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    const acquiredAt = new Date().toISOString();
    const info = (): LockInfo => ({ mode: 'lease', pid: process.pid, host: this.#host, purpose, acquiredAt, heartbeatAt: new Date().toISOString() });
    for (;;) {
      if (await this.#storage.putIfAbsent(key, encode(info()))) break;
      const holder = await this.#read(key);
      if (holder === undefined || this.#isStale(holder, staleAfterMs)) {
        await this.#removeIfUnchanged(key, holder);
        continue;
      }
      await this.#waitOrFail(deadline, holder, `"${name}" lease`);
    }
    const mine = (held: LockInfo | undefined) => held !== undefined && held.pid === process.pid && held.host === this.#host && held.acquiredAt === acquiredAt;
    const lost = new AbortController();
    // A third of the staleness limit: two heartbeats may be late before another process may take the lease over.
    const timer = setInterval(() => {
      void (async () => {
        if (!mine(await this.#read(key))) {
          clearInterval(timer);
          lost.abort(new RepositoryError('lock-timeout', `the "${name}" lease was taken over by another process (this one's heartbeat was over ${staleAfterMs} ms old)`));
          return;
        }
        // A taker that replaces the object between this read and this write is overwritten once; its own next
        // heartbeat then finds the object not its own and gives up, so only one holder goes on.
        await this.#storage.put(key, encode(info()));
      })().catch(() => undefined);
    }, Math.max(100, Math.floor(staleAfterMs / 3)));
    timer.unref();
    let released = false;
    return {
      name,
      lost: lost.signal,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        if (mine(await this.#read(key))) await this.#storage.delete(key);
      },
    };
  }

  /** Live holders of the given mode (stale ones are removed on the way). */
  async #liveHolders(mode: 'shared' | 'exclusive'): Promise<LockInfo[]> {
    const live: LockInfo[] = [];
    for await (const key of this.#storage.list('locks/')) {
      if (!key.startsWith(mode === 'shared' ? 'locks/shared-' : EXCLUSIVE_KEY)) continue;
      const holder = await this.#read(key);
      if (holder === undefined) continue;
      if (this.#isStale(holder)) await this.#removeIfUnchanged(key, holder);
      else live.push(holder);
    }
    return live;
  }

  #isStale(holder: LockInfo, staleAfterMs = this.#timings.staleAfterMs): boolean {
    if (Date.now() - Date.parse(holder.heartbeatAt) > staleAfterMs) return true;
    if (holder.host !== this.#host) return false;
    try {
      process.kill(holder.pid, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }

  async #read(key: string): Promise<LockInfo | undefined> {
    try {
      return JSON.parse((await this.#storage.get(key)).toString('utf8')) as LockInfo;
    } catch {
      return undefined;
    }
  }

  /** Removes a stale lock only if it is still the one judged stale (another taker may have replaced it meanwhile). */
  async #removeIfUnchanged(key: string, seen: LockInfo | undefined): Promise<void> {
    const current = await this.#read(key);
    if (current === undefined || seen === undefined) return;
    if (current.pid === seen.pid && current.host === seen.host && current.acquiredAt === seen.acquiredAt) await this.#storage.delete(key);
  }

  async #waitOrFail(deadline: number, holder: LockInfo, wanted: string): Promise<void> {
    if (Date.now() >= deadline) {
      throw new RepositoryError('lock-timeout', `could not take the ${wanted} repository lock: a ${holder.mode} lock is held by pid ${holder.pid} on ${holder.host} for "${holder.purpose}" since ${holder.acquiredAt}; wait for it to finish or raise timeoutMs (a lock of a dead process is taken over automatically)`, {
        holder: { pid: holder.pid, host: holder.host, purpose: holder.purpose, since: holder.acquiredAt },
      });
    }
    await sleep(Math.min(this.#timings.pollMs, Math.max(1, deadline - Date.now())));
  }
}

function encode(info: LockInfo): Buffer {
  return Buffer.from(JSON.stringify(info));
}
