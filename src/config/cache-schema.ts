import { integer, nonEmptyText, object } from './config-fields.js';

/** The `cache` section (docs/cache.md), or `dm.cache.configure()`. Times in milliseconds. */
export interface CacheSection {
  /** Id of a configured Redis database: the shared tier (L2) and the bus. Absent: the memory tier alone. */
  redis?: string;
  /** Prefix of every Redis key and of the bus channel (default "datakeep:cache"). */
  prefix?: string;
  /** How long a value is fresh (default 60000). */
  defaultTtl?: number;
  /** How long past its freshness a value may still be served while it is refreshed or its loader fails (default 0). */
  grace?: number;
  /** How long a caller holding a stale value waits for its refresh before it gets the stale value (default 0: at once). */
  loaderTimeout?: number;
  /** How long a caller with no value at all waits for a loader before a TimeoutError (default: no limit of the cache's). */
  hardTimeout?: number;
  /** Bounds of the memory tier: entries (default 10000) and, optionally, bytes of the values' JSON. */
  l1?: { maxEntries?: number; maxBytes?: number };
  /** Limit of each Redis round trip of the cache (default 500); past it the call counts as a failure. */
  remoteTimeout?: number;
  /** Lifetime of the cross-process load lock (default 10000). */
  lockTtl?: number;
  /** How long a process waits for another's load of the same key before loading itself (default 5000). */
  lockWait?: number;
  /** How long an invalidation's tombstone lives (default 60000); a load that took longer is never stored. */
  tombstoneTtl?: number;
  /** Consecutive Redis failures that open the cache's breaker (default 3), and ms until it tries again (default 2000). */
  breaker?: { threshold?: number; resetTimeout?: number };
}

export const CACHE_DEFAULTS = Object.freeze({
  prefix: 'datakeep:cache',
  defaultTtl: 60_000,
  grace: 0,
  loaderTimeout: 0,
  maxEntries: 10_000,
  remoteTimeout: 500,
  lockTtl: 10_000,
  lockWait: 5_000,
  tombstoneTtl: 60_000,
  breakerThreshold: 3,
  breakerReset: 2_000,
});

const MS = ' (milliseconds)';
const DAY = 86_400_000;
const FIX = 'Write "cache": {"redis": "<id of a configured redis database>", "defaultTtl": 60000, "grace": 300000}';

export const cacheSectionSchema = object(
  {
    redis: nonEmptyText('Give the id of a Redis database listed in "databases"').optional(),
    prefix: nonEmptyText('Give a key prefix such as "myapp:cache"').optional(),
    defaultTtl: integer(1, 365 * DAY, MS).optional(),
    grace: integer(0, 365 * DAY, MS).optional(),
    loaderTimeout: integer(0, DAY, MS).optional(),
    hardTimeout: integer(1, DAY, MS).optional(),
    l1: object({ maxEntries: integer(1, 100_000_000).optional(), maxBytes: integer(1024).optional() }, 'Write "l1": {"maxEntries": 10000} or {"maxBytes": 67108864}').optional(),
    remoteTimeout: integer(1, 60_000, MS).optional(),
    lockTtl: integer(10, DAY, MS).optional(),
    lockWait: integer(0, DAY, MS).optional(),
    tombstoneTtl: integer(100, DAY, MS).optional(),
    breaker: object({ threshold: integer(1, 1000).optional(), resetTimeout: integer(10, DAY, MS).optional() }, 'Write "breaker": {"threshold": 3, "resetTimeout": 2000}').optional(),
  },
  FIX,
);
