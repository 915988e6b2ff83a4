import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ThrowawayRedis, waitFor } from '../support/throwaway-redis.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import type { DatabaseConfig } from '../../src/config/database-config.js';
import { DataManager } from '../../src/data-manager.js';
import { RedisAdapter } from '../../src/engines/redis/redis-adapter.js';
import type { RedisTransactionContext } from '../../src/engines/redis/redis-transaction-context.js';
import { CapabilityError, ConnectionError, QueryError, TransactionError, UsageError } from '../../src/errors/index.js';
import { silentLogger } from '../../src/util/logger.js';

function adapterFor(config: DatabaseConfig): RedisAdapter {
  return new RedisAdapter(resolveDatabaseConfig(config, 'test'), { logger: silentLogger });
}

describe('redis adapter on a throwaway server', () => {
  let server: ThrowawayRedis;
  let adapter: RedisAdapter;
  let raw: Redis;

  before(async () => {
    server = await ThrowawayRedis.start({ name: 'redis-adapter' });
    adapter = adapterFor({ ...server.config, database: '2' });
    await adapter.connect();
    raw = new Redis({ host: server.host, port: server.port, db: 2, lazyConnect: true });
    await raw.connect();
  });
  after(async () => {
    raw?.disconnect();
    await adapter?.close();
    await server?.stop();
  });

  it('runs redis-cli style lines and arrays, on the configured db index, with plain JS replies', async () => {
    assert.equal(await adapter.command('SET greeting "hello world"'), 'OK');
    assert.equal(await raw.get('greeting'), 'hello world', 'the write landed in db 2');
    assert.equal(await adapter.command(['GET', 'greeting']), 'hello world');
    assert.equal(await adapter.command(['HSET', 'h', 'f1', 'v1', 'f2', 'v2']), 2);
    assert.deepEqual(await adapter.command('HGETALL h'), ['f1', 'v1', 'f2', 'v2']);
    assert.equal(await adapter.command('GET no:such:key'), null);
    assert.deepEqual(await adapter.command('LRANGE no:such:list 0 -1'), []);
    assert.equal(await adapter.command('INCRBY counter', [5]), 5);
  });

  it('appends params as arguments, so values need no quoting', async () => {
    const value = 'a "quoted" value with spaces and \'single\' quotes';
    await adapter.command('SET params:k', [value]);
    assert.equal(await raw.get('params:k'), value);
  });

  it('is binary safe: \\x escapes and Buffers reach the server as bytes', async () => {
    await adapter.command('SET bin:k "\\x00\\xff\\x01"');
    assert.deepEqual(await raw.getBuffer('bin:k'), Buffer.from([0x00, 0xff, 0x01]));
    await adapter.command(['SET', 'bin:b', Buffer.from([0xfe, 0x00])]);
    assert.deepEqual(await raw.getBuffer('bin:b'), Buffer.from([0xfe, 0x00]));
  });

  it('turns error replies into QueryError with the Redis error code', async () => {
    await raw.set('str', 'x');
    await assert.rejects(adapter.command('LPUSH str v'), (error: unknown) => error instanceof QueryError && error.sqlState === 'WRONGTYPE');
    await assert.rejects(adapter.command(['NO_SUCH_COMMAND']), (error: unknown) => error instanceof QueryError && error.sqlState === 'ERR');
  });

  it('refuses SQL with a capability error that names command()', async () => {
    await assert.rejects(adapter.query('SELECT 1'), (error: unknown) => error instanceof CapabilityError && /command\(/.test(error.message));
    await assert.rejects(adapter.execute('DELETE FROM t'), CapabilityError);
  });

  it('pipeline returns replies in order, a rejected command as a QueryError value', async () => {
    await raw.set('p:str', 'x');
    const replies = await adapter.pipeline([['SET', 'p:a', '1'], 'INCR p:a', 'LPUSH p:str v', ['GET', 'p:a']]);
    assert.equal(replies.length, 4);
    assert.deepEqual([replies[0], replies[1], replies[3]], ['OK', 2, '2']);
    assert.ok(replies[2] instanceof QueryError && replies[2].sqlState === 'WRONGTYPE');
  });

  it('multi runs atomically and returns EXEC replies; a command refused at queue time discards the block', async () => {
    assert.deepEqual(await adapter.multi([['SET', 'm:a', '1'], 'INCR m:a', 'GET m:a']), ['OK', 2, '2']);
    await assert.rejects(adapter.multi([['SET', 'm:b', '1'], ['NO_SUCH_COMMAND']]), (error: unknown) => error instanceof QueryError && error.sqlState === 'EXECABORT');
    assert.equal(await raw.exists('m:b'), 0, 'nothing of the discarded block was applied');
  });

  it('transaction() queues commands and runs them as one MULTI/EXEC after the callback', async () => {
    const result = await adapter.transaction(async (tx) => {
      const rtx = tx as RedisTransactionContext;
      assert.equal(rtx.queue('SET t:a 1'), 0);
      assert.equal(rtx.queue(['SET', 't:b', '2']), 1);
      assert.equal(await raw.exists('t:a'), 0, 'nothing is sent while the callback runs');
      return rtx.queued;
    });
    assert.equal(result, 2);
    assert.deepEqual(await raw.mget('t:a', 't:b'), ['1', '2']);
  });

  it('transaction(): nothing is applied when the callback throws', async () => {
    await assert.rejects(
      adapter.transaction(async (tx) => {
        (tx as RedisTransactionContext).queue('SET t:never 1');
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    assert.equal(await raw.exists('t:never'), 0);
  });

  it('transaction(): a command failing inside EXEC is a TransactionError saying the others were applied', async () => {
    await raw.set('t:str', 'x');
    await assert.rejects(
      adapter.transaction(async (tx) => {
        const rtx = tx as RedisTransactionContext;
        rtx.queue('SET t:applied 1');
        rtx.queue('LPUSH t:str v');
      }),
      (error: unknown) => error instanceof TransactionError && /command 2 of 2 \(LPUSH\)/.test(error.message) && /were applied/.test(error.message),
    );
    assert.equal(await raw.get('t:applied'), '1');
  });

  it('transaction(): isolation levels, read-only, savepoints, nesting and SQL are capability errors', async () => {
    await assert.rejects(adapter.transaction(async () => undefined, { isolationLevel: 'serializable' }), (e: unknown) => e instanceof CapabilityError && /watch/.test(e.message));
    await assert.rejects(adapter.transaction(async () => undefined, { readOnly: true }), CapabilityError);
    await adapter.transaction(async (tx) => {
      await assert.rejects(tx.savepoint(), (e: unknown) => e instanceof CapabilityError && e.capability === 'savepoints');
      await assert.rejects(tx.rollbackTo('x'), CapabilityError);
      await assert.rejects(tx.transaction(async () => undefined), CapabilityError);
      await assert.rejects(tx.query('SELECT 1'), CapabilityError);
    });
  });

  it('transaction(): queueing after the callback ended is refused', async () => {
    let leaked: RedisTransactionContext | undefined;
    await adapter.transaction(async (tx) => {
      leaked = tx as RedisTransactionContext;
    });
    assert.throws(() => leaked!.queue('SET late 1'), TransactionError);
  });

  it('pub/sub on a dedicated connection: messages arrive, unsubscribe stops them', async () => {
    const channel = `chan:${randomBytes(4).toString('hex')}`;
    const received: string[] = [];
    let notify: (() => void) | undefined;
    const unsubscribe = await adapter.subscribe(channel, (message, ch) => {
      assert.equal(ch, channel);
      received.push(message);
      notify?.();
    });
    const arrived = new Promise<void>((resolve) => (notify = resolve));
    assert.equal(await adapter.publish(channel, 'first'), 1);
    await Promise.race([arrived, new Promise((_, reject) => setTimeout(() => reject(new Error('message not delivered within 5 s')), 5000))]);
    assert.deepEqual(received, ['first']);
    // commands keep working on the command connection while a subscription is open
    assert.equal(await adapter.command('PING'), 'PONG');
    await unsubscribe();
    assert.equal(await adapter.publish(channel, 'second'), 0, 'no subscriber left on the server');
    assert.deepEqual(received, ['first']);
  });

  it('health reports PING latency, role, clients, memory, replication offset and version', async () => {
    const health = await adapter.health();
    assert.equal(health.status, 'healthy', health.reasons.join('; '));
    assert.ok(health.latency >= 0);
    assert.match(health.serverVersion ?? '', /^\d+\.\d+/);
    assert.equal(health.inRecovery, false);
    const d = health.details!;
    assert.equal(d.role, 'master');
    assert.equal(d.mode, 'standalone');
    assert.ok((d.connectedClients as number) >= 2);
    assert.ok((d.usedMemory as number) > 0);
    assert.equal(typeof d.masterReplOffset, 'number');
    assert.deepEqual(d.replicas, []);
  });

  it('metrics count commands, pipelines and transactions, and map connections', async () => {
    const before = adapter.metrics();
    await adapter.command('PING');
    await adapter.pipeline(['PING', 'PING', 'NO_SUCH_COMMAND']);
    await adapter.transaction(async (tx) => {
      (tx as RedisTransactionContext).queue('PING');
    });
    const m = adapter.metrics();
    assert.equal(m.queries.total, before.queries.total + 1 + 3 + 1);
    assert.equal(m.queries.failed, before.queries.failed + 1);
    assert.equal(m.transactions.committed, before.transactions.committed + 1);
    assert.equal(m.circuit.state, 'closed');
    assert.ok(m.connections.total >= 1 && m.connections.total <= m.connections.max);
    assert.equal(m.connections.active + m.connections.idle, m.connections.total);
  });

  it('close() ends every connection it opened, pub/sub included', async () => {
    const other = adapterFor({ ...server.config, database: '2', applicationName: 'dk-close-check' });
    await other.connect();
    await other.subscribe('close-check', () => undefined);
    await other.watch(['close-check-key'], async (ctx) => ctx.queue('SET close-check-key 1'));
    const names = async () => String(await raw.call('CLIENT', 'LIST')).split('\n').filter((l) => l.includes('name=dk-close-check')).length;
    assert.equal(await names(), 3, 'command, pub/sub and one dedicated WATCH connection');
    await other.close();
    await waitFor(async () => (await names()) === 0, 5000, 'the server to see every connection closed');
  });
});

describe('redis adapter: connection loss', () => {
  it('a command issued while the server is down fails with a ConnectionError (no endless offline queue), and the adapter recovers after a restart', async () => {
    const server = await ThrowawayRedis.start({ name: 'redis-outage' });
    const adapter = adapterFor({ ...server.config, circuitBreaker: { failureThreshold: 100 } });
    try {
      await adapter.connect();
      await adapter.command('SET k before');
      await server.kill('SIGKILL');
      await assert.rejects(adapter.command('GET k'), ConnectionError);
      const unhealthy = await adapter.health();
      assert.equal(unhealthy.status, 'unhealthy');
      await server.restart();
      // ioredis reconnects by itself; bounded wait for the first successful command
      await waitFor(async () => (await adapter.command('PING')) === 'PONG', 15_000, 'the adapter to reconnect');
      assert.equal((await adapter.health()).status, 'healthy');
      assert.ok(adapter.metrics().connections.failedAttempts >= 1);
    } finally {
      await adapter.close();
      await server.stop();
    }
  });

  it('opens the circuit after repeated connection failures and then fails fast', async () => {
    const server = await ThrowawayRedis.start({ name: 'redis-circuit' });
    const adapter = adapterFor({ ...server.config, circuitBreaker: { failureThreshold: 2, resetTimeout: 60_000 } });
    try {
      await adapter.connect();
      await server.kill('SIGKILL');
      for (let i = 0; i < 2; i += 1) await assert.rejects(adapter.command('PING'), ConnectionError);
      await assert.rejects(adapter.command('PING'), (e: unknown) => (e as { code?: string }).code === 'DK_CIRCUIT_OPEN');
      assert.equal(adapter.metrics().circuit.state, 'open');
    } finally {
      await adapter.close();
      await server.stop();
    }
  });
});

describe('the seed example on 127.0.0.1:6379', () => {
  it("queryDatabase('redis-localhost-0', 'GET user:123'), health and metrics work unchanged", async () => {
    const dm = new DataManager({ logger: silentLogger });
    await dm.initialize([{ type: 'redis', host: 'localhost', port: 6379, database: '0' }]);
    const raw = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await raw.connect();
    const key = `dk:seed:${randomBytes(6).toString('hex')}`;
    try {
      assert.deepEqual(dm.databaseIds, ['redis-localhost-0']);
      assert.equal(await dm.queryDatabase('redis-localhost-0', 'GET user:123'), await raw.get('user:123'));
      await dm.queryDatabase('redis-localhost-0', `SET ${key} "cached value"`);
      assert.equal(await dm.queryDatabase('redis-localhost-0', ['GET', key]), 'cached value');
      const health = (await dm.getHealthStatus()).get('redis-localhost-0')!;
      assert.equal(health.status, 'healthy', health.reasons.join('; '));
      const metrics = (await dm.getMetrics()).get('redis-localhost-0')!;
      assert.ok(metrics.queries.total >= 3);
    } finally {
      await raw.del(key);
      raw.disconnect();
      await dm.close();
    }
  });

  it('rejects SQL routed to a configuration with only Redis, naming queryDatabase', async () => {
    const dm = new DataManager({ logger: silentLogger });
    await dm.initialize([{ type: 'redis', host: '127.0.0.1', port: 6379, database: '0' }]);
    try {
      await assert.rejects(dm.query('SELECT 1'), /queryDatabase/);
      await assert.rejects(dm.queryDatabase('redis-127.0.0.1-0', 'SET k "unbalanced'), UsageError);
    } finally {
      await dm.close();
    }
  });
});
