import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DataManager } from '../../src/data-manager.js';
import { cacheManager, eventually } from '../support/cache-fixture.js';
import { ThrowawayRedis } from '../support/throwaway-redis.js';

/**
 * Redis killed mid-run (SIGKILL of a redis-server started for this file, with an append-only file so that its data
 * survives the restart): callers see no error, the cache serves memory and loaders, keeps its invalidations, and
 * sends them once Redis is back, before it uses Redis again.
 */
describe('dm.cache while Redis is down', () => {
  let redis: ThrowawayRedis;
  let dm: DataManager;

  before(async () => {
    redis = await ThrowawayRedis.start({ name: 'cache-down', config: ['appendonly yes', 'appendfsync always'] });
    dm = cacheManager(redis, { remoteTimeout: 200, breaker: { threshold: 2, resetTimeout: 300 } });
    await dm.initialize();
    await dm.cache.ready();
  });
  after(async () => {
    await dm?.close();
    await redis?.stop();
  });

  it('degrades to memory and loaders without errors, and recovers when Redis is back', async () => {
    await dm.cache.getOrSet('kept', () => 'in memory and redis');
    await dm.cache.getOrSet('stale-in-redis', () => 'old');
    assert.equal(await redis.rawCommand('EXISTS datakeep:cache:v:stale-in-redis'), ':1\r\n');

    await redis.kill("SIGKILL");
    let runs = 0;
    for (let i = 0; i < 20; i += 1) {
      assert.equal(await dm.cache.getOrSet(`down:${i}`, () => (runs += 1, `v${i}`)), `v${i}`);
    }
    assert.equal(runs, 20);
    assert.equal(await dm.cache.getOrSet('down:3', () => 'not again'), 'v3', 'the memory tier still serves');
    assert.equal(await dm.cache.getOrSet('kept', () => 'reloaded'), 'in memory and redis');
    // An invalidation during the outage: memory at once, Redis later.
    await dm.cache.invalidate('stale-in-redis');
    assert.equal(await dm.cache.get('stale-in-redis'), undefined);
    const down = dm.cache.stats();
    assert.ok(down.remoteErrors > 0);
    assert.equal(down.remoteAvailable, false);
    // The cache's own series (a full scrape would also probe the dead server's health, which takes its timeout).
    const registry = dm.monitoring.registry();
    assert.match(await registry.getSingleMetricAsString('datakeep_cache_errors_total'), /datakeep_cache_errors_total\{kind="remote"\} [1-9]/);
    assert.match(await registry.getSingleMetricAsString('datakeep_cache_remote_available'), /datakeep_cache_remote_available 0/);
    await redis.restart();
    assert.equal(await redis.rawCommand('EXISTS datakeep:cache:v:stale-in-redis'), ':1\r\n', 'the append-only file kept the old value');
    let n = 0;
    await eventually(async () => {
      n += 1;
      await dm.cache.getOrSet(`up:${n}`, () => 'x');
      return (await redis.rawCommand(`EXISTS datakeep:cache:v:up:${n}`)) === ':1\r\n';
    }, 'the cache to store in Redis again', 30_000);
    // The invalidation kept during the outage reached Redis before the cache used it again.
    assert.equal(await redis.rawCommand('EXISTS datakeep:cache:v:stale-in-redis'), ':0\r\n');
    assert.equal(await dm.cache.getOrSet('stale-in-redis', () => 'new'), 'new');
    assert.equal(dm.cache.stats().remoteAvailable, true);
  });
});
