import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DataManager } from '../../src/data-manager.js';
import type { RedisTransactionContext } from '../../src/engines/redis/redis-transaction-context.js';
import { DistributedTransactionError } from '../../src/transactions/distributed-transaction-error.js';
import { cacheManager, deferred, eventually } from '../support/cache-fixture.js';
import { createMariadbTestDatabase, type MariadbTestDatabase } from '../support/mariadb-server.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { ThrowawayRedis } from '../support/throwaway-redis.js';

/**
 * Invalidation tied to commits, against PostgreSQL (and MariaDB + Redis for a distributed transaction) and a
 * redis-server started for this file; the classic cache-aside race is shown with a naive cache and refused by dm.cache.
 * The interleavings are forced with promises, never with sleeps.
 */
describe('dm.cache and transactions', () => {
  let redis: ThrowawayRedis;
  let pg: TestDatabase;
  let maria: MariadbTestDatabase;
  let state: TestDatabase;
  let dm: DataManager;
  let other: DataManager;

  const readItem = async (id: number) => (await dm.query<{ v: string }>('SELECT v FROM items WHERE id = ?', [id]))[0]!.v;

  before(async () => {
    redis = await ThrowawayRedis.start({ name: 'cache-tx' });
    [pg, maria, state] = await Promise.all([createTestDatabase('dk_cachetx'), createMariadbTestDatabase('dk_cachetx'), createTestDatabase('dk_cachetxstate')]);
    const databases = [{ ...pg.config, id: 'pg' }, { ...maria.config, id: 'maria' }];
    dm = cacheManager(redis, {}, databases, { url: state.url });
    other = cacheManager(redis, {}, databases, { url: state.url });
    await Promise.all([dm.initialize(), other.initialize()]);
    await Promise.all([dm.cache.ready(), other.cache.ready()]);
    await dm.execute('CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL)');
    await dm.queryDatabase('maria', 'CREATE TABLE items (id int PRIMARY KEY, v varchar(40) NOT NULL) ENGINE=InnoDB');
  });
  after(async () => {
    await Promise.allSettled([dm?.close(), other?.close()]);
    await Promise.allSettled([pg?.drop(), maria?.drop(), state?.drop(), redis?.stop()]);
  });

  it('tx.invalidate takes effect after the commit, not before it, and the transaction resolves after it took effect', async () => {
    await dm.execute("INSERT INTO items VALUES (1, 'a')");
    assert.equal(await dm.cache.getOrSet('item:1', () => readItem(1)), 'a');
    await dm.transaction(async (tx) => {
      await tx.execute("UPDATE items SET v = 'b' WHERE id = 1");
      tx.invalidate('item:1');
      // Not yet committed: the cached value stays (a reader would only reload the old row now).
      assert.equal(await dm.cache.get('item:1'), 'a');
      assert.equal(await other.cache.get('item:1'), 'a');
    });
    assert.equal(await dm.cache.get('item:1'), undefined);
    assert.equal(await dm.cache.getOrSet('item:1', () => readItem(1)), 'b');
  });

  it('a rolled-back transaction invalidates nothing', async () => {
    await dm.execute("INSERT INTO items VALUES (2, 'a')");
    await dm.cache.getOrSet('item:2', () => readItem(2), { tags: ['items'] });
    await assert.rejects(
      dm.transaction(async (tx) => {
        await tx.execute("UPDATE items SET v = 'b' WHERE id = 2");
        tx.invalidate(['item:2', { tag: 'items' }]);
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    assert.equal(await readItem(2), 'a');
    assert.equal(await dm.cache.get('item:2'), 'a');
    assert.equal(await redis.rawCommand('EXISTS datakeep:cache:v:item:2'), ':1\r\n');
  });

  it('tags invalidated in a transaction reach the other instance after the commit', async () => {
    await dm.execute("INSERT INTO items VALUES (3, 'a')");
    await other.cache.getOrSet('item:3', () => readItem(3), { tags: ['items'] });
    await dm.transaction(async (tx) => {
      await tx.execute("UPDATE items SET v = 'b' WHERE id = 3");
      tx.invalidate({ tag: 'items' });
    });
    await eventually(async () => (await other.cache.get('item:3')) === undefined, 'the other instance to drop the tag');
  });

  it('a distributed transaction (MariaDB XA + Redis last resource) invalidates after its commit, never after an abort', async () => {
    await dm.queryDatabase('maria', "INSERT INTO items VALUES (4, 'a')");
    const load = async () => ((await dm.queryDatabase('maria', 'SELECT v FROM items WHERE id = 4')) as { v: string }[])[0]!.v;
    assert.equal(await dm.cache.getOrSet('maria:4', load), 'a');
    await assert.rejects(
      dm.transactions.distributed(['maria', 'redis'], async (tx) => {
        await tx.on('maria').execute("UPDATE items SET v = 'b' WHERE id = 4");
        tx.invalidate('maria:4');
        throw new Error('abort');
      }),
      (e: unknown) => e instanceof DistributedTransactionError ? e.outcome === 'aborted' : /abort/.test(String(e)),
    );
    assert.equal(await dm.cache.get('maria:4'), 'a');
    await dm.transactions.distributed(['maria', 'redis'], async (tx) => {
      await tx.on('maria').execute("UPDATE items SET v = 'c' WHERE id = 4");
      tx.on<RedisTransactionContext>('redis').queue(['SET', 'marker:4', 'c']);
      tx.invalidate('maria:4');
      assert.equal(await dm.cache.get('maria:4'), 'a', 'not before the commit');
    });
    assert.equal(await dm.cache.get('maria:4'), undefined);
    assert.equal(await dm.cache.getOrSet('maria:4', load), 'c');
  });

  it('the cache-aside race: a naive cache keeps the row read before the commit; dm.cache refuses to store it', async () => {
    await dm.execute("INSERT INTO items VALUES (10, 'old'), (11, 'old')");
    const naiveKey = 'naive:item:10';

    // Naive cache-aside: GET, on a miss read the row and SET it; writers UPDATE, COMMIT, then DEL.
    {
      const readDone = deferred();
      const writerDone = deferred();
      const reader = (async () => {
        if ((await dm.queryDatabase('redis', ['GET', naiveKey])) !== null) return;
        const row = await readItem(10);
        readDone.resolve();
        await writerDone.promise;
        await dm.queryDatabase('redis', ['SET', naiveKey, row]);
      })();
      await readDone.promise;
      await dm.transaction((tx) => tx.execute("UPDATE items SET v = 'new' WHERE id = 10"));
      await dm.queryDatabase('redis', ['DEL', naiveKey]);
      writerDone.resolve();
      await reader;
      assert.equal(await readItem(10), 'new');
      assert.equal(await dm.queryDatabase('redis', ['GET', naiveKey]), 'old', 'the naive cache holds the stale row after the invalidation');
    }

    // The same interleaving with dm.cache and tx.invalidate.
    {
      const readDone = deferred();
      const writerDone = deferred();
      const refused = dm.cache.stats().refusedStores;
      const reader = dm.cache.getOrSet('item:11', async () => {
        const row = await readItem(11);
        readDone.resolve();
        await writerDone.promise;
        return row;
      });
      await readDone.promise;
      await dm.transaction(async (tx) => {
        await tx.execute("UPDATE items SET v = 'new' WHERE id = 11");
        tx.invalidate('item:11');
      });
      writerDone.resolve();
      // The reader's caller gets what it read (it asked before the commit), but the cache does not keep it.
      assert.equal(await reader, 'old');
      assert.equal(dm.cache.stats().refusedStores, refused + 1);
      assert.equal(await dm.cache.get('item:11'), undefined);
      assert.equal(await other.cache.get('item:11'), undefined);
      assert.equal(await redis.rawCommand('EXISTS datakeep:cache:v:item:11'), ':0\r\n');
      assert.equal(await other.cache.getOrSet('item:11', () => readItem(11)), 'new');
    }
  });

  it('the race across processes: a load in another instance that read before the commit is refused too', async () => {
    await dm.execute("INSERT INTO items VALUES (12, 'old')");
    const readDone = deferred();
    const writerDone = deferred();
    const reader = other.cache.getOrSet('item:12', async () => {
      const row = (await other.query<{ v: string }>('SELECT v FROM items WHERE id = 12'))[0]!.v;
      readDone.resolve();
      await writerDone.promise;
      return row;
    });
    await readDone.promise;
    await dm.transaction(async (tx) => {
      await tx.execute("UPDATE items SET v = 'new' WHERE id = 12");
      tx.invalidate('item:12');
    });
    // The commit's tombstone is in Redis: the other instance's write, conditional on the stamps it read, must fail.
    await eventually(async () => (await redis.rawCommand('EXISTS datakeep:cache:g:item:12')) === ':1\r\n', 'the tombstone');
    writerDone.resolve();
    assert.equal(await reader, 'old');
    assert.equal(await other.cache.get('item:12'), undefined);
    assert.equal(await dm.cache.getOrSet('item:12', () => readItem(12)), 'new');
    assert.equal(await other.cache.getOrSet('item:12', () => 'never'), 'new');
  });
});
