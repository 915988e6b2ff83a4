import { randomUUID } from 'node:crypto';
import type { Histogram } from 'prom-client';
import type { SharedRead } from './cache-part.js';
import type { CacheCounters } from './cache-metrics.js';
import { decodePayload, encodePayload } from './cache-payload.js';
import type { CacheSettings } from './cache-settings.js';
import type { MemoryEntry, MemoryTier } from './memory-tier.js';
import type { RemoteTier } from './remote-tier.js';

/** Per call: fresh time, grace, tags, and the two waits (see CacheSection). */
export interface CacheCallOptions {
  readonly ttl?: number;
  readonly grace?: number;
  readonly tags?: readonly string[];
  readonly loaderTimeout?: number;
  readonly hardTimeout?: number;
}

export interface CacheTiers {
  readonly settings: CacheSettings;
  readonly memory: MemoryTier;
  readonly remote: RemoteTier | undefined;
  readonly counters: CacheCounters;
  readonly loadTime: Histogram<'outcome'> | undefined;
}

/** A load in progress: `read` settles with what the shared tier had (fresh or stale, or nothing); `result` with the value. */
export interface Flight {
  readonly read: Promise<MemoryEntry | undefined>;
  readonly result: Promise<unknown>;
}

/** Polling another process's load: first wait, and the cap the waits double up to. */
const FIRST_POLL_MS = 2;
const MAX_POLL_MS = 50;

/** The shared tier's answer for `key`, put into the memory tier (fresh or stale) unless an invalidation came after `since`. */
export function acceptRead(t: CacheTiers, key: string, read: SharedRead, since: number, count = true): MemoryEntry | undefined {
  const entry = read.payload === null ? undefined : decodePayload(read.payload, read.remainingMs, read.version, Date.now());
  if (count) {
    if (entry === undefined) t.counters.l2Misses += 1;
    else t.counters.l2Hits += 1;
  }
  if (entry !== undefined) t.memory.set(key, entry, since);
  return entry;
}

/**
 * One load of `key`, shared by every caller of this process (the cache keeps one Flight per key):
 * 1. read the shared tier (value, remaining lifetime, the stamps of the key and its tags, the load lock); a fresh value
 *    ends here;
 * 2. the same read takes the key's load lock (SET NX PX) when the value is missing or stale; when another process
 *    holds it, poll until its value appears, the lock is ours, or `lockWait` has passed (load anyway);
 * 3. run the loader and store its value, in the shared tier only while the stamps read before the loader started are
 *    unchanged, and in memory only when no invalidation of the key or its tags arrived since the load started. So a
 *    loader that read the database before a transaction committed never stores its value after the commit's
 *    invalidation.
 */
export function startFlight(t: CacheTiers, key: string, loader: () => unknown, options: CacheCallOptions): Flight {
  let announce!: (entry: MemoryEntry | undefined) => void;
  const read = new Promise<MemoryEntry | undefined>((resolve) => (announce = resolve));
  const result = load(t, key, loader, options, announce);
  result.catch(() => undefined);
  return { read, result };
}

async function load(t: CacheTiers, key: string, loader: () => unknown, options: CacheCallOptions, announce: (entry: MemoryEntry | undefined) => void): Promise<unknown> {
  const { settings, memory, remote, counters } = t;
  const tags = options.tags ?? [];
  const ttl = options.ttl ?? settings.defaultTtl;
  const grace = options.grace ?? settings.grace;
  const since = memory.epoch();
  // The read takes the load lock in the same round trip when the value is missing or stale.
  const lock = { token: remote ? randomUUID() : '', ttlMs: settings.lockTtl };
  let readAt = performance.now();
  let read = remote ? await remote.call((s) => s.read(key, tags, lock)) : undefined;
  let held = read?.lock === 'mine';
  try {
    if (remote !== undefined && read !== undefined) {
      const found = acceptRead(t, key, read, since);
      announce(found);
      if (found !== undefined && found.freshUntil > Date.now()) return found.value;
      if (read.lock === 'other') {
        counters.lockWaits += 1;
        const waited = await waitForOther(t, key, tags, since, lock);
        if ('entry' in waited) return waited.entry.value;
        ({ read, readAt, held } = waited);
      }
    } else {
      announce(undefined);
    }
    const value = await runLoader(t, loader);
    // undefined means "nothing": returned, never stored (a loader answers undefined for a row that does not exist).
    if (value === undefined) return value;
    const payload = encodePayload(grace, tags, value);
    if (remote !== undefined && read !== undefined) {
      const stamp = read.stamp;
      // A tombstone lives tombstoneTtl: a load older than that could miss an invalidation, so it is not stored.
      const written = performance.now() - readAt < settings.tombstoneTtl ? await remote.call((s) => s.write(key, payload, ttl + grace, tags, stamp, held ? lock.token : '')) : false;
      // The write script released the lock whatever it decided; only a failed call leaves it to the finally below.
      if (written !== undefined) held = false;
      if (written === false) {
        counters.refusedStores += 1;
        return value;
      }
    }
    const now = Date.now();
    const entry: MemoryEntry = { value, freshUntil: now + ttl, staleUntil: now + ttl + grace, version: read?.version ?? 0, tags, size: payload.length };
    if (!memory.set(key, entry, since)) counters.refusedStores += 1;
    return value;
  } finally {
    announce(undefined);
    if (held) void remote!.call((s) => s.unlock(key, lock.token));
  }
}

async function runLoader(t: CacheTiers, loader: () => unknown): Promise<unknown> {
  const started = performance.now();
  try {
    const value = await loader();
    t.loadTime?.observe({ outcome: 'ok' }, (performance.now() - started) / 1000);
    return value;
  } catch (error) {
    t.loadTime?.observe({ outcome: 'error' }, (performance.now() - started) / 1000);
    t.counters.error('loader');
    throw error;
  }
}

type Waited = { readonly entry: MemoryEntry } | { readonly read: SharedRead | undefined; readonly readAt: number; readonly held: boolean };

/** Another process loads `key`: poll (2 ms doubling to 50 ms) until its value appears, its lock is ours, or lockWait passes. */
async function waitForOther(t: CacheTiers, key: string, tags: readonly string[], since: number, lock: { readonly token: string; readonly ttlMs: number }): Promise<Waited> {
  const remote = t.remote!;
  const deadline = Date.now() + t.settings.lockWait;
  let delay = FIRST_POLL_MS;
  let last: { read: SharedRead | undefined; readAt: number } = { read: undefined, readAt: performance.now() };
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return { ...last, held: false };
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
    delay = Math.min(delay * 2, MAX_POLL_MS);
    const readAt = performance.now();
    const read = await remote.call((s) => s.read(key, tags, lock));
    if (read === undefined) return { read: undefined, readAt, held: false };
    last = { read, readAt };
    const entry = acceptRead(t, key, read, since, false);
    if (entry !== undefined && entry.freshUntil > Date.now()) {
      t.counters.l2Hits += 1;
      return { entry };
    }
    if (read.lock === 'mine') return { read, readAt, held: true };
  }
}
