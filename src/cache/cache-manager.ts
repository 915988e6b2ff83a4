import { randomUUID } from 'node:crypto';
import type { Histogram } from 'prom-client';
import { cacheSectionSchema, type CacheSection } from '../config/cache-schema.js';
import { parseArgument } from '../config/parse-config.js';
import type { DatakeepContext } from '../datakeep-context.js';
import { enginePart } from '../engines/engine-registry.js';
import { LifecycleError, TimeoutError, UsageError } from '../errors/index.js';
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import type { CommitInvalidator, InvalidationTarget } from '../transactions/commit-invalidations.js';
import { acceptRead, startFlight, type CacheCallOptions, type CacheTiers, type Flight } from './cache-load.js';
import { CacheCounters, registerCacheMetrics } from './cache-metrics.js';
import type { InvalidationMessage } from './cache-part.js';
import { encodePayload } from './cache-payload.js';
import { resolveCacheSettings } from './cache-settings.js';
import { MemoryTier, type MemoryEntry } from './memory-tier.js';
import { RemoteTier } from './remote-tier.js';

export type { CacheCallOptions } from './cache-load.js';

/** Invalidations kept while Redis is down before the cache gives up on them and clears its shared tier on recovery. */
const MAX_PENDING_INVALIDATIONS = 10_000;
/** During an outage, one warning per this many ms. */
const WARN_EVERY_MS = 10_000;

/** See `CacheManager.stats()`. */
export interface CacheStats {
  readonly l1Hits: number;
  readonly l1Misses: number;
  readonly l2Hits: number;
  readonly l2Misses: number;
  readonly staleServed: number;
  readonly lockWaits: number;
  /** Loaded values not stored because their key or a tag was invalidated while they loaded. */
  readonly refusedStores: number;
  readonly remoteErrors: number;
  readonly loaderErrors: number;
  /** Entries in the memory tier. */
  readonly entries: number;
  /** True while the Redis tier is in use (configured, and its breaker not open). */
  readonly remoteAvailable: boolean;
}

interface Running extends CacheTiers {
  /** False while the bus is not subscribed: then the memory tier is not read (it could miss other processes' invalidations). */
  busUp: boolean;
  unsubscribe: (() => Promise<void>) | undefined;
}

/**
 * `dm.cache`: a memory tier (LRU) over an optional Redis tier with a bus, one load per key across callers and
 * processes, stale values within a grace period, invalidation by key and tag that other processes' memory tiers
 * follow, and invalidations tied to transaction commits (`tx.invalidate`). Redis failures never reach the caller: the
 * cache carries on with memory and loaders behind its breaker. See docs/cache.md.
 */
export class CacheManager implements CommitInvalidator {
  readonly #origin = randomUUID();
  readonly #counters = new CacheCounters();
  readonly #flights = new Map<string, Flight>();
  readonly #loadTime: Histogram<'outcome'> | undefined;
  #section: CacheSection | undefined;
  #running: Running | undefined;
  #starting: Promise<Running> | undefined;
  #busRetry: NodeJS.Timeout | undefined;
  #lastWarning = 0;
  #closed = false;

  constructor(
    private readonly context: () => DatakeepContext,
    metrics?: MetricsRegistry,
  ) {
    if (metrics) {
      this.#loadTime = registerCacheMetrics(metrics.registry, this.#counters, {
        entries: () => this.#running?.memory.size ?? 0,
        remoteAvailable: () => (this.#running?.remote?.available && this.#running.busUp ? 1 : 0),
      });
    }
  }

  /** Sets the options (the `cache` section's fields), overriding the file's; allowed until the cache is first used. */
  configure(options: CacheSection): void {
    if (this.#starting) throw new LifecycleError('cache.configure() after the cache was first used; call it right after initialize()');
    this.#section = parseArgument(cacheSectionSchema, options, 'options');
  }

  /** Starts the cache (subscribes to the bus) without waiting for the first call. Idempotent. */
  async ready(): Promise<void> {
    await this.#start();
  }

  /**
   * The value of `key`: from memory, else from Redis, else from `loader` (run once per key across this process's
   * callers and, with Redis, across processes) and stored for `ttl` (+ `grace`) under `tags`. A value past its `ttl`
   * but within `grace` is served at once (or after `loaderTimeout` ms) while one refresh runs, and is served if the
   * loader fails. A loader answering undefined is not cached. Treat returned objects as read-only: they are shared.
   */
  async getOrSet<T>(key: string, loader: () => Promise<T> | T, options: CacheCallOptions = {}): Promise<T> {
    const t = this.#running ?? (await this.#start());
    const now = Date.now();
    let entry = t.busUp ? t.memory.get(key, now) : undefined;
    if (entry !== undefined && entry.freshUntil > now) {
      this.#counters.l1Hits += 1;
      return entry.value as T;
    }
    checkKey(key);
    if (typeof loader !== 'function') throw new UsageError('loader', 'expected a function () => value (or a promise of it)');
    this.#counters.l1Misses += 1;
    const flight = this.#flight(t, key, loader, options);
    if (entry === undefined) {
      entry = await flight.read;
      if (entry !== undefined && entry.freshUntil > Date.now()) return entry.value as T;
    }
    if (entry !== undefined) return (await this.#staleOr(flight.result, entry, options.loaderTimeout ?? t.settings.loaderTimeout)) as T;
    return (await this.#bounded(flight.result, options.hardTimeout ?? t.settings.hardTimeout, key)) as T;
  }

  /** The value of `key` (fresh, or stale within grace) from memory or Redis; undefined when neither has it. */
  async get<T>(key: string): Promise<T | undefined> {
    const t = this.#running ?? (await this.#start());
    checkKey(key);
    const entry = t.busUp ? t.memory.get(key, Date.now()) : undefined;
    if (entry !== undefined) {
      this.#counters.l1Hits += 1;
      return entry.value as T;
    }
    this.#counters.l1Misses += 1;
    const since = t.memory.epoch();
    const read = await t.remote?.call((s) => s.read(key, []));
    return read === undefined ? undefined : (acceptRead(t, key, read, since)?.value as T | undefined);
  }

  /** Stores `value` under `key` in both tiers; other processes drop their copy. */
  async set(key: string, value: unknown, options: Pick<CacheCallOptions, 'ttl' | 'grace' | 'tags'> = {}): Promise<void> {
    const t = this.#running ?? (await this.#start());
    checkKey(key);
    if (value === undefined) throw new UsageError('value', 'undefined cannot be cached; delete the key instead');
    const ttl = options.ttl ?? t.settings.defaultTtl;
    const grace = options.grace ?? t.settings.grace;
    const tags = options.tags ?? [];
    const payload = encodePayload(grace, tags, value);
    let version = 0;
    if (t.remote) {
      const written = await t.remote.call((s) => s.write(key, payload, ttl + grace, tags, undefined));
      if (written === undefined || written === false) t.remote.remember([key], []);
      else version = written;
    }
    t.memory.invalidateKey(key);
    const now = Date.now();
    t.memory.set(key, { value, freshUntil: now + ttl, staleUntil: now + ttl + grace, version, tags, size: payload.length }, t.memory.epoch());
  }

  /** Removes `key` from every tier of every process. */
  async delete(key: string): Promise<void> {
    await this.invalidate([key]);
  }

  /**
   * Invalidates keys (`'user:1'`, `{key}`) and tags (`{tag}`) in every tier of every process. Resolves once Redis
   * took it (or, while Redis is down, once this process's memory did; Redis gets it when it is back). Never throws
   * for Redis failures.
   */
  async invalidate(targets: InvalidationTarget | readonly InvalidationTarget[]): Promise<void> {
    const t = this.#running ?? (await this.#start());
    const keys: string[] = [];
    const tags: string[] = [];
    for (const target of Array.isArray(targets) ? (targets as readonly InvalidationTarget[]) : [targets as InvalidationTarget]) {
      if (typeof target === 'string') keys.push(checkKey(target));
      else if (typeof target === 'object' && target !== null && 'tag' in target && typeof target.tag === 'string') tags.push(target.tag);
      else if (typeof target === 'object' && target !== null && 'key' in target) keys.push(checkKey(target.key));
      else throw new UsageError('target', `expected a key ("user:1"), {key: "user:1"} or {tag: "users"}, got ${JSON.stringify(target) ?? String(target)}`);
    }
    if (keys.length + tags.length === 0) return;
    // Redis first, then memory: a load of this process that read Redis before the invalidation started before the
    // memory's mark below, so its value is refused; one that reads Redis after it finds nothing.
    await t.remote?.invalidate(keys, tags);
    for (const key of keys) t.memory.invalidateKey(key);
    for (const tag of tags) t.memory.invalidateTag(tag);
  }

  /** This cache's counts since it was created (the same numbers as its Prometheus series). */
  stats(): CacheStats {
    const c = this.#counters;
    return {
      l1Hits: c.l1Hits,
      l1Misses: c.l1Misses,
      l2Hits: c.l2Hits,
      l2Misses: c.l2Misses,
      staleServed: c.staleServed,
      lockWaits: c.lockWaits,
      refusedStores: c.refusedStores,
      remoteErrors: c.errors.get('remote') ?? 0,
      loaderErrors: c.errors.get('loader') ?? 0,
      entries: this.#running?.memory.size ?? 0,
      remoteAvailable: this.#running?.remote?.available ?? false,
    };
  }

  /** Stops listening to the bus. Loads in progress finish; later calls are LifecycleErrors. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#busRetry);
    const running = await this.#starting?.catch(() => undefined);
    const unsubscribe = running?.unsubscribe;
    if (running) running.unsubscribe = undefined;
    await unsubscribe?.().catch(() => undefined);
  }

  #flight(t: Running, key: string, loader: () => unknown, options: CacheCallOptions): Flight {
    const existing = this.#flights.get(key);
    if (existing) return existing;
    const flight = startFlight(t, key, loader, options);
    this.#flights.set(key, flight);
    void flight.result.then(
      () => this.#flights.delete(key),
      () => this.#flights.delete(key),
    );
    return flight;
  }

  /** The refreshed value if it comes within `waitMs`, else (or if the loader fails) the stale one. */
  #staleOr(result: Promise<unknown>, stale: MemoryEntry, waitMs: number): Promise<unknown> {
    const serveStale = () => {
      this.#counters.staleServed += 1;
      return stale.value;
    };
    if (waitMs <= 0) return Promise.resolve(serveStale());
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(serveStale()), waitMs);
      result.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        () => {
          clearTimeout(timer);
          resolve(serveStale());
        },
      );
    });
  }

  /** `result`, or a TimeoutError after `limitMs` (the load goes on and stores its value for later callers). */
  #bounded(result: Promise<unknown>, limitMs: number | undefined, key: string): Promise<unknown> {
    if (limitMs === undefined) return result;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError('operation', `cache: the loader of "${key}" did not finish within ${limitMs} ms (hardTimeout)`, { timeoutMs: limitMs })), limitMs);
      result.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #start(): Promise<Running> {
    if (this.#closed) return Promise.reject(new LifecycleError('the cache is closed'));
    this.#starting ??= this.#open().then(
      (running) => (this.#running = running),
      (error: unknown) => {
        this.#starting = undefined;
        throw error;
      },
    );
    return this.#starting;
  }

  async #open(): Promise<Running> {
    const context = this.context();
    const settings = resolveCacheSettings(this.#section ?? parseArgument(cacheSectionSchema, context.config.cache ?? {}, 'cache'));
    const memory = new MemoryTier({ maxEntries: settings.maxEntries, maxBytes: settings.maxBytes, rememberMs: settings.tombstoneTtl });
    let remote: RemoteTier | undefined;
    if (settings.redis !== undefined) {
      const adapter = context.registry.get(settings.redis);
      const part = enginePart(adapter, 'cache', 'a shared cache tier (cache.redis)');
      const store = part.store(adapter, { prefix: settings.prefix, tombstoneMs: settings.tombstoneTtl, origin: this.#origin });
      remote = new RemoteTier(
        store,
        { databaseId: adapter.id, timeoutMs: settings.remoteTimeout, breakerThreshold: settings.breakerThreshold, breakerResetMs: settings.breakerReset, maxPending: MAX_PENDING_INVALIDATIONS },
        // Failed or slow calls lose no bus messages, so recovery keeps the memory tier; a lost bus connection clears it
        // (the onGap of subscribe below).
        { onError: (error) => this.#remoteFailed(error) },
      );
    }
    const running: Running = { settings, memory, remote, counters: this.#counters, loadTime: this.#loadTime, busUp: remote === undefined, unsubscribe: undefined };
    if (remote) await this.#subscribe(running);
    return running;
  }

  /** Subscribes to the bus; on failure retries every breaker reset period, and until then the memory tier is bypassed. */
  async #subscribe(running: Running): Promise<void> {
    const unsubscribe = await running.remote!.call((s) =>
      s.subscribe(
        (message) => this.#received(running, message),
        () => running.memory.clear(),
      ),
    );
    if (this.#closed) {
      await unsubscribe?.().catch(() => undefined);
      return;
    }
    if (unsubscribe !== undefined) {
      running.unsubscribe = unsubscribe;
      // Whatever the memory tier took while the bus was down may have missed invalidations.
      if (!running.busUp) running.memory.clear();
      running.busUp = true;
      return;
    }
    this.#busRetry = setTimeout(() => void this.#subscribe(running), running.settings.breakerReset);
    this.#busRetry.unref();
  }

  #received(running: Running, message: InvalidationMessage): void {
    if (message.origin === this.#origin) return;
    if (message.all) {
      running.memory.clear();
      return;
    }
    for (const key of message.keys) running.memory.invalidateKey(key, message.version);
    for (const tag of message.tags) running.memory.invalidateTag(tag, message.version);
  }

  #remoteFailed(error: unknown): void {
    this.#counters.error('remote');
    const now = Date.now();
    if (now - this.#lastWarning < WARN_EVERY_MS) return;
    this.#lastWarning = now;
    this.context().logger.log('warn', 'cache: Redis tier unavailable; serving from memory and loaders', { error: error instanceof Error ? error.message : String(error) });
  }
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key === '') throw new UsageError('key', `expected a non-empty string, got ${JSON.stringify(key) ?? String(key)}`);
  return key;
}
