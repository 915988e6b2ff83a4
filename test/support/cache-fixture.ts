import { DataManager } from '../../src/data-manager.js';
import type { CacheSection } from '../../src/config/cache-schema.js';
import type { DatabaseConfig } from '../../src/config/database-config.js';
import { silentLogger } from '../../src/util/logger.js';
import type { ThrowawayRedis } from './throwaway-redis.js';

/** A promise with its resolve exposed: the tests' barriers (they interleave loads and commits without sleeping). */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A DataManager whose cache uses `redis` (database id "redis"), plus any other databases; not initialized. */
export function cacheManager(redis: ThrowawayRedis, cache: Omit<CacheSection, 'redis'> = {}, databases: DatabaseConfig[] = [], state?: { url: string }): DataManager {
  return new DataManager({
    config: { databases: [{ ...redis.config, id: 'redis' }, ...databases], cache: { redis: 'redis', ...cache }, ...(state ? { state } : {}) },
    logger: silentLogger,
  });
}

/** Polls `check` every 5 ms until it holds, or throws after `timeoutMs` naming what it waited for. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
