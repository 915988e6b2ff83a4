import type { DatabaseAdapter } from '../adapters/database-adapter.js';

/**
 * What the cache remembers of a read from the shared tier: the invalidation stamps of the key and of its tags at the
 * time of the read. A value loaded after the read is stored only while every stamp is unchanged, so a loader that read
 * the database before an invalidation can never store what it read after that invalidation (the cache-aside race).
 */
export type CacheStamp = readonly string[];

/** One read of the shared tier: the stored payload (or null), its remaining lifetime, the stamp, whether a load is locked. */
export interface SharedRead {
  readonly payload: string | null;
  /** Milliseconds the payload still lives in the shared tier (fresh time plus grace); 0 when absent. */
  readonly remainingMs: number;
  readonly stamp: CacheStamp;
  /** The highest invalidation number among the stamps: the version of what this read saw (0 when never invalidated). */
  readonly version: number;
  /**
   * The load lock, asked for only when the value is missing or stale: `none` (fresh value, or no lock asked and none
   * held), `mine` (this read took it with the given token), `other` (another holder has it).
   */
  readonly lock: 'none' | 'mine' | 'other';
}

/** An invalidation as it travels on the bus: its number (higher is later), the keys and tags it covers, its sender. */
export interface InvalidationMessage {
  readonly version: number;
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  readonly origin: string;
  /** True after the shared tier was cleared: every process drops its whole memory tier. */
  readonly all: boolean;
}

/**
 * The shared tier of the cache and its bus, as an engine offers them (Redis: one Lua script per operation and pub/sub).
 * Every method may fail with the engine's connection errors; the cache counts them against its breaker and carries on
 * with its memory tier. The contract is the cache's; the engine implements it in its own folder.
 */
export interface SharedCacheStore {
  /**
   * The payload of `key`, its remaining lifetime and the stamps of `key` and `tags`, in one step; when the value is
   * missing or stale and `lock` is given, also takes the key's load lock (SET NX PX) with its token.
   */
  read(key: string, tags: readonly string[], lock?: { readonly token: string; readonly ttlMs: number }): Promise<SharedRead>;
  /**
   * Stores `payload` for `lifetimeMs` and adds `key` to the sets of its tags, only while the stamps still equal `stamp`.
   * Resolves false (nothing written) when an invalidation came in between. With `stamp` undefined the write is
   * unconditional and counts as an invalidation of `key` (other processes drop their copies): resolves its version.
   * Releases the load lock held with `lockToken`, in the same step.
   */
  write(key: string, payload: string, lifetimeMs: number, tags: readonly string[], stamp: CacheStamp | undefined, lockToken?: string): Promise<number | false>;
  /**
   * Removes the keys, and every key stored under the tags, and records a tombstone for each key and tag that outlives
   * loads still running, then publishes the invalidation on the bus. Resolves the invalidation's version.
   */
  invalidate(keys: readonly string[], tags: readonly string[]): Promise<number>;
  /** Releases the load lock only if `token` still holds it. */
  unlock(key: string, token: string): Promise<void>;
  /**
   * Receives the invalidations published by every process (this one's too); resolves once subscribed. `onGap` is
   * called when the subscription is back after its connection was lost (messages published meanwhile are lost).
   */
  subscribe(handler: (message: InvalidationMessage) => void, onGap: () => void): Promise<() => Promise<void>>;
  /** Removes every key under the prefix (SCAN, in batches): after an outage whose invalidations could not be kept. */
  clear(): Promise<void>;
}

export interface SharedStoreSettings {
  readonly prefix: string;
  /** How long a tombstone outlives its invalidation: loads that ran longer than this are never stored. */
  readonly tombstoneMs: number;
  /** This cache's id on the bus (its messages carry it, so that it can skip its own). */
  readonly origin: string;
}

/** The engine part: a shared cache store over one adapter of the engine, its keys under `prefix`. */
export interface CachePart {
  store(adapter: DatabaseAdapter, settings: SharedStoreSettings): SharedCacheStore;
}
