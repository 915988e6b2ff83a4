import { CircuitOpenError, TimeoutError } from '../errors/index.js';
import { CircuitBreaker } from '../resilience/circuit-breaker.js';
import type { SharedCacheStore } from './cache-part.js';

export interface RemoteTierOptions {
  readonly databaseId: string;
  readonly timeoutMs: number;
  readonly breakerThreshold: number;
  readonly breakerResetMs: number;
  /** Invalidations kept while Redis is unreachable; past this many the whole shared tier is cleared on recovery. */
  readonly maxPending: number;
}

export interface RemoteTierHooks {
  /** A call failed (counted, logged by the cache; the caller carries on without the shared tier). */
  onError(error: unknown): void;
}

/**
 * The shared tier behind the cache's breaker: every call is bounded by `timeoutMs`, counts against the breaker, and
 * never throws (undefined means "no answer": the cache goes on with its memory tier and the loaders). Invalidations
 * that could not be sent are kept and sent before anything else once Redis answers again, so that a value invalidated
 * during the outage is not served from Redis afterwards; too many, and the shared tier is cleared instead.
 */
export class RemoteTier {
  readonly #breaker: CircuitBreaker;
  readonly #pendingKeys = new Set<string>();
  readonly #pendingTags = new Set<string>();
  #overflow = false;
  #degraded = false;
  #recovering: Promise<void> | undefined;

  constructor(
    readonly store: SharedCacheStore,
    private readonly options: RemoteTierOptions,
    private readonly hooks: RemoteTierHooks,
  ) {
    this.#breaker = new CircuitBreaker(`${options.databaseId} (cache)`, options.breakerThreshold, options.breakerResetMs);
  }

  /** False while the breaker is open: the cache then skips Redis without trying. */
  get available(): boolean {
    return this.#breaker.state !== 'open';
  }

  /** The call's answer, or undefined when Redis is unreachable, slow or the breaker is open. Never throws. */
  async call<T>(op: (store: SharedCacheStore) => Promise<T>): Promise<T | undefined> {
    if (this.#breaker.state === 'open') return undefined;
    try {
      if (this.#overflow || this.#pendingKeys.size + this.#pendingTags.size > 0) await this.#replay();
      const result = await this.#bounded(() => op(this.store));
      this.#degraded = false;
      return result;
    } catch (error) {
      this.#failed(error);
      return undefined;
    }
  }

  /** Sends an invalidation, or keeps it for when Redis answers again. Resolves its version, or undefined when kept. */
  async invalidate(keys: readonly string[], tags: readonly string[]): Promise<number | undefined> {
    const version = await this.call((s) => s.invalidate(keys, tags));
    if (version === undefined) this.remember(keys, tags);
    return version;
  }

  #bounded<T>(work: () => Promise<T>, timeoutMs = this.options.timeoutMs): Promise<T> {
    // The hot path: while the breaker is closed with no failure counted, a success changes nothing in it, so the call
    // goes straight to the store and only a failure is reported (as the adapters' command runners do); the limit is
    // one timer, not a timeout policy per call.
    if (this.#breaker.passThrough) {
      return this.#timed(work, timeoutMs).catch(async (error: unknown) => {
        await this.#breaker.recordFailure(error);
        throw error;
      });
    }
    return this.#breaker.execute(() => this.#timed(work, timeoutMs));
  }

  #timed<T>(work: () => Promise<T>, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError('operation', `${this.options.databaseId}: a cache call got no answer within ${timeoutMs} ms`, { timeoutMs })), timeoutMs);
      work().then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  #failed(error: unknown): void {
    if (error instanceof CircuitOpenError && !this.#degraded) return;
    this.#degraded = true;
    this.hooks.onError(error);
  }

  /** Keeps an invalidation that Redis did not take, for when it answers again. */
  remember(keys: readonly string[], tags: readonly string[]): void {
    for (const k of keys) this.#pendingKeys.add(k);
    for (const t of tags) this.#pendingTags.add(t);
    if (this.#pendingKeys.size + this.#pendingTags.size > this.options.maxPending) {
      this.#overflow = true;
      this.#pendingKeys.clear();
      this.#pendingTags.clear();
    }
  }

  /** Sends the kept invalidations (or clears the shared tier) before anything else. Concurrent callers share it. */
  #replay(): Promise<void> {
    this.#recovering ??= (async () => {
      try {
        const keys = [...this.#pendingKeys];
        const tags = [...this.#pendingTags];
        if (this.#overflow) {
          // A SCAN over the prefix takes longer than one call; bounded all the same.
          await this.#bounded(() => this.store.clear(), this.options.timeoutMs * 20);
          this.#overflow = false;
        } else {
          await this.#bounded(() => this.store.invalidate(keys, tags));
        }
        for (const k of keys) this.#pendingKeys.delete(k);
        for (const t of tags) this.#pendingTags.delete(t);
      } finally {
        this.#recovering = undefined;
      }
    })();
    return this.#recovering;
  }
}
