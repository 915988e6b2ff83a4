import { LRUCache } from 'lru-cache';

/** A value in the memory tier, with the times it is fresh and servable until, and the version it was read at. */
export interface MemoryEntry {
  readonly value: unknown;
  /** Epoch ms until which the value is fresh. */
  readonly freshUntil: number;
  /** Epoch ms until which the value may be served stale (the end of its grace period). */
  readonly staleUntil: number;
  /** The highest invalidation number the value's read saw: an invalidation up to it is older than the value. */
  readonly version: number;
  readonly tags: readonly string[];
  /** Bytes of its JSON, for the byte bound. */
  readonly size: number;
}

export interface MemoryTierOptions {
  readonly maxEntries: number;
  readonly maxBytes: number | undefined;
  /** How long an invalidation is remembered for loads that started before it (the tombstone time). */
  readonly rememberMs: number;
}

/**
 * The cache's memory tier (L1): an LRU bounded by entries (and, optionally, bytes) on lru-cache, an index from tags to
 * their keys, and a record of recent invalidations so that a load which started before an invalidation of its key or
 * tags cannot put its value here after it (`set` with the load's `since`).
 */
export class MemoryTier {
  readonly #lru: LRUCache<string, MemoryEntry>;
  readonly #byTag = new Map<string, Set<string>>();
  /** Insertion order is time order: re-touching moves an entry to the end, so pruning reads from the front. */
  readonly #touched = new Map<string, { readonly epoch: number; readonly at: number }>();
  #epoch = 0;

  constructor(private readonly options: MemoryTierOptions) {
    this.#lru = new LRUCache<string, MemoryEntry>({
      max: options.maxEntries,
      ...(options.maxBytes === undefined ? {} : { maxSize: options.maxBytes, sizeCalculation: (entry: MemoryEntry) => Math.max(1, entry.size) }),
      dispose: (entry, key) => this.#unindex(key, entry.tags),
    });
  }

  get size(): number {
    return this.#lru.size;
  }

  /** The current invalidation epoch: give it back to `set` as `since` for a load that starts now. */
  epoch(): number {
    return this.#epoch;
  }

  /** The entry while it is servable (fresh or within grace); an expired one is removed. */
  get(key: string, now: number): MemoryEntry | undefined {
    const entry = this.#lru.get(key);
    if (entry === undefined) return undefined;
    if (entry.staleUntil > now) return entry;
    this.#lru.delete(key);
    return undefined;
  }

  /**
   * Stores `entry` unless the key or one of its tags was invalidated after epoch `since` (a load that started before
   * the invalidation read what it invalidated). Returns whether it was stored.
   */
  set(key: string, entry: MemoryEntry, since: number): boolean {
    if (this.#invalidatedSince(`k${key}`, since)) return false;
    for (const tag of entry.tags) if (this.#invalidatedSince(`t${tag}`, since)) return false;
    this.#lru.set(key, entry);
    for (const tag of entry.tags) {
      let keys = this.#byTag.get(tag);
      if (!keys) this.#byTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
    return true;
  }

  /**
   * Drops `key` unless its entry is newer than invalidation number `version` (a late bus message for an invalidation
   * the value was already read after); remembers the invalidation for loads in progress either way.
   */
  invalidateKey(key: string, version = Number.POSITIVE_INFINITY): void {
    this.#touch(`k${key}`);
    const entry = this.#lru.peek(key);
    if (entry !== undefined && entry.version < version) this.#lru.delete(key);
  }

  invalidateTag(tag: string, version = Number.POSITIVE_INFINITY): void {
    this.#touch(`t${tag}`);
    const keys = this.#byTag.get(tag);
    if (!keys) return;
    for (const key of [...keys]) {
      const entry = this.#lru.peek(key);
      if (entry !== undefined && entry.version < version) this.#lru.delete(key);
    }
  }

  /** Drops everything, and refuses every load that started before (they may have read what was invalidated unseen). */
  clear(): void {
    this.#lru.clear();
    this.#byTag.clear();
    this.#touched.clear();
    this.#epoch += 1;
    this.#touched.set('*', { epoch: this.#epoch, at: Date.now() });
  }

  #touch(id: string): void {
    this.#epoch += 1;
    const now = Date.now();
    this.#touched.delete(id);
    this.#touched.set(id, { epoch: this.#epoch, at: now });
    // Loads older than the tombstone time are never stored, so older invalidations need not be remembered.
    for (const [first, mark] of this.#touched) {
      if (mark.at >= now - this.options.rememberMs) break;
      this.#touched.delete(first);
    }
  }

  #invalidatedSince(id: string, since: number): boolean {
    const mark = this.#touched.get(id);
    if (mark !== undefined && mark.epoch > since) return true;
    const all = this.#touched.get('*');
    return all !== undefined && all.epoch > since;
  }

  #unindex(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      const keys = this.#byTag.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.#byTag.delete(tag);
    }
  }
}
