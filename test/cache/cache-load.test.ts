import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DataManager } from '../../src/data-manager.js';
import { TimeoutError } from '../../src/errors/index.js';
import { cacheManager, deferred, eventually } from '../support/cache-fixture.js';
import { ThrowawayRedis } from '../support/throwaway-redis.js';

/** Loads, stampedes, freshness and grace, and tags across instances, against a redis-server started for this file. */
describe('dm.cache loads', () => {
  let redis: ThrowawayRedis;
  let a: DataManager;
  let b: DataManager;

  before(async () => {
    redis = await ThrowawayRedis.start({ name: 'cache-load' });
    a = cacheManager(redis);
    b = cacheManager(redis);
    await Promise.all([a.initialize(), b.initialize()]);
    await Promise.all([a.cache.ready(), b.cache.ready()]);
  });
  after(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await redis?.stop();
  });

  it('100 concurrent getOrSet of one key in one process run the loader once and all get its value', async () => {
    let runs = 0;
    const gate = deferred();
    const loader = async () => {
      runs += 1;
      await gate.promise;
      return { id: 1, runs };
    };
    const calls = Array.from({ length: 100 }, () => a.cache.getOrSet('stampede:1', loader));
    await eventually(() => runs === 1, 'the loader to start');
    gate.resolve();
    const values = await Promise.all(calls);
    assert.equal(runs, 1);
    for (const v of values) assert.deepEqual(v, { id: 1, runs: 1 });
  });

  it('two DataManagers asking for one key at once run the loader once: the second waits on the Redis lock', async () => {
    let runs = 0;
    const gate = deferred();
    const loader = async () => {
      runs += 1;
      await gate.promise;
      return `value ${runs}`;
    };
    const first = a.cache.getOrSet('stampede:2', loader);
    await eventually(() => runs === 1, 'the first loader to start');
    const waitsBefore = b.cache.stats().lockWaits;
    const second = b.cache.getOrSet('stampede:2', loader);
    // The second process found the lock taken and is polling for the value: only then is the first load let go.
    await eventually(() => b.cache.stats().lockWaits === waitsBefore + 1, 'the second instance to wait on the lock');
    gate.resolve();
    assert.deepEqual(await Promise.all([first, second]), ['value 1', 'value 1']);
    assert.equal(runs, 1);
  });

  it('a value past its ttl is served stale within grace while one refresh runs, then the refreshed value', async () => {
    await a.cache.getOrSet('fresh:1', () => 'v1', { ttl: 30, grace: 600_000 });
    await new Promise((r) => setTimeout(r, 60));
    const gate = deferred();
    let refreshes = 0;
    const refresh = async () => {
      refreshes += 1;
      await gate.promise;
      return 'v2';
    };
    const staleServed = a.cache.stats().staleServed;
    assert.equal(await a.cache.getOrSet('fresh:1', refresh, { ttl: 600_000, grace: 600_000 }), 'v1');
    assert.equal(await a.cache.getOrSet('fresh:1', refresh, { ttl: 600_000, grace: 600_000 }), 'v1');
    assert.equal(a.cache.stats().staleServed, staleServed + 2);
    await eventually(() => refreshes === 1, 'the refresh to start');
    gate.resolve();
    await eventually(async () => (await a.cache.get('fresh:1')) === 'v2', 'the refreshed value');
    assert.equal(refreshes, 1, 'one refresh for both stale reads');
    // The other instance reads the refreshed value from Redis without loading.
    assert.equal(await b.cache.getOrSet('fresh:1', () => 'never'), 'v2');
  });

  it('past ttl + grace the value is gone: the loader runs and its value is returned', async () => {
    await a.cache.getOrSet('fresh:2', () => 'old', { ttl: 20, grace: 20 });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await a.cache.getOrSet('fresh:2', () => 'new', { ttl: 600_000 }), 'new');
  });

  it('a stale value is served when the refresh is slower than loaderTimeout or fails; with no value the loader error reaches the caller', async () => {
    await a.cache.getOrSet('slow:1', () => 'stale', { ttl: 20, grace: 600_000 });
    await new Promise((r) => setTimeout(r, 50));
    const gate = deferred();
    const slow = async () => {
      await gate.promise;
      return 'late';
    };
    assert.equal(await a.cache.getOrSet('slow:1', slow, { loaderTimeout: 20 }), 'stale');
    gate.resolve();
    await eventually(async () => (await a.cache.get('slow:1')) === 'late', 'the slow load to be stored');

    await a.cache.getOrSet('slow:2', () => 'kept', { ttl: 20, grace: 600_000 });
    await new Promise((r) => setTimeout(r, 50));
    const failing = () => Promise.reject(new Error('database down'));
    assert.equal(await a.cache.getOrSet('slow:2', failing, { loaderTimeout: 1000 }), 'kept');
    await assert.rejects(a.cache.getOrSet('slow:3', failing), /database down/);
    assert.ok(a.cache.stats().loaderErrors >= 2);
  });

  it('hardTimeout bounds a caller with no value: a TimeoutError, while the load still stores its value', async () => {
    const gate = deferred();
    const error = await a.cache.getOrSet('hard:1', async () => (await gate.promise, 'done'), { hardTimeout: 20 }).catch((e: unknown) => e);
    assert.ok(error instanceof TimeoutError && error.kind === 'operation', String(error));
    gate.resolve();
    await eventually(async () => (await a.cache.get('hard:1')) === 'done', 'the load to finish');
  });

  it('a tag invalidation in one instance drops the tagged keys from the other instance\'s memory (pub/sub), not the others', async () => {
    for (const dm of [a, b]) {
      await dm.cache.getOrSet('user:1', () => 'alice', { tags: ['users'] });
      await dm.cache.getOrSet('user:2', () => 'bob', { tags: ['users', 'admins'] });
      await dm.cache.getOrSet('order:1', () => 'o1', { tags: ['orders'] });
    }
    const hits = b.cache.stats().l1Hits;
    assert.equal(await b.cache.get('user:1'), 'alice');
    assert.equal(b.cache.stats().l1Hits, hits + 1, 'b holds user:1 in memory');
    await a.cache.invalidate({ tag: 'users' });
    // Redis no longer has them, so once b's memory dropped them, b's get finds nothing.
    await eventually(async () => (await b.cache.get('user:1')) === undefined && (await b.cache.get('user:2')) === undefined, 'b to drop the users tag');
    assert.equal(await b.cache.get('order:1'), 'o1');
    assert.equal(await b.cache.getOrSet('user:1', () => 'alice v2', { tags: ['users'] }), 'alice v2');
    assert.equal(await a.cache.getOrSet('user:1', () => 'never'), 'alice v2');
  });

  it('set() replaces the value everywhere and delete() removes it everywhere', async () => {
    await a.cache.getOrSet('k:set', () => 1);
    assert.equal(await b.cache.getOrSet('k:set', () => 0), 1);
    await a.cache.set('k:set', 2);
    await eventually(async () => (await b.cache.get('k:set')) === 2, 'b to see the new value');
    await b.cache.delete('k:set');
    await eventually(async () => (await a.cache.get('k:set')) === undefined, 'a to drop the deleted key');
  });
});
