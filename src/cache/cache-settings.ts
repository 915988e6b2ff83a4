import { CACHE_DEFAULTS, type CacheSection } from '../config/cache-schema.js';

/** The cache's settings with every default filled in. Times in milliseconds. */
export interface CacheSettings {
  readonly redis: string | undefined;
  readonly prefix: string;
  readonly defaultTtl: number;
  readonly grace: number;
  readonly loaderTimeout: number;
  readonly hardTimeout: number | undefined;
  readonly maxEntries: number;
  readonly maxBytes: number | undefined;
  readonly remoteTimeout: number;
  readonly lockTtl: number;
  readonly lockWait: number;
  readonly tombstoneTtl: number;
  readonly breakerThreshold: number;
  readonly breakerReset: number;
}

export function resolveCacheSettings(section: CacheSection): CacheSettings {
  const d = CACHE_DEFAULTS;
  return Object.freeze({
    redis: section.redis,
    prefix: section.prefix ?? d.prefix,
    defaultTtl: section.defaultTtl ?? d.defaultTtl,
    grace: section.grace ?? d.grace,
    loaderTimeout: section.loaderTimeout ?? d.loaderTimeout,
    hardTimeout: section.hardTimeout,
    maxEntries: section.l1?.maxEntries ?? d.maxEntries,
    maxBytes: section.l1?.maxBytes,
    remoteTimeout: section.remoteTimeout ?? d.remoteTimeout,
    lockTtl: section.lockTtl ?? d.lockTtl,
    lockWait: section.lockWait ?? d.lockWait,
    tombstoneTtl: section.tombstoneTtl ?? d.tombstoneTtl,
    breakerThreshold: section.breaker?.threshold ?? d.breakerThreshold,
    breakerReset: section.breaker?.resetTimeout ?? d.breakerReset,
  });
}
