import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ThrowawayRedis } from '../support/throwaway-redis.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { RedisAdapter } from '../../src/engines/redis/redis-adapter.js';
import { TransactionError, UsageError } from '../../src/errors/index.js';
import { silentLogger } from '../../src/util/logger.js';

/** Two adapters (two clients, as two application processes would be) on one throwaway server. */
describe('redis watch(): optimistic transactions', () => {
  let server: ThrowawayRedis;
  let a: RedisAdapter;
  let b: RedisAdapter;

  before(async () => {
    server = await ThrowawayRedis.start({ name: 'redis-watch' });
    const config = resolveDatabaseConfig(server.config, 'test');
    a = new RedisAdapter(config, { logger: silentLogger });
    b = new RedisAdapter(config, { logger: silentLogger });
    await Promise.all([a.connect(), b.connect()]);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await server?.stop();
  });

  /** Reads the counter, lets `between` run, then queues the increment: the read-modify-write WATCH protects. */
  const increment = (adapter: RedisAdapter, key: string, between?: (attempt: number) => Promise<void>, options?: { maxAttempts?: number }) =>
    adapter.watch([key], async (ctx) => {
      const current = Number((await ctx.command(['GET', key])) ?? 0);
      await between?.(ctx.attempt);
      ctx.queue(['SET', key, String(current + 1)]);
      return current + 1;
    }, options);

  it('the loser of a race re-runs its callback and the final value counts both increments', async () => {
    const key = 'race:one';
    // A reads, then B increments the same key before A's EXEC: A's first EXEC must abort and A must re-run.
    const result = await increment(a, key, async (attempt) => {
      if (attempt === 1) {
        const winner = await increment(b, key);
        assert.equal(winner.attempts, 1);
      }
    });
    assert.equal(result.attempts, 2, 'the loser ran its callback twice');
    assert.equal(result.value, 2, 'the re-run read the winner\'s value');
    assert.deepEqual(result.replies, ['OK']);
    assert.equal(await a.command(['GET', key]), '2');
    assert.ok(a.metrics().transactions.retried >= 1);
  });

  it('two clients racing many increments on one key lose none', async () => {
    const key = 'race:many';
    const perClient = 40;
    const run = async (adapter: RedisAdapter) => {
      let attempts = 0;
      for (let i = 0; i < perClient; i += 1) {
        // Yielding between read and write widens the window in which the other client can interfere.
        // The property is that no increment is lost, not how often one re-runs: on a loaded machine one client can lose
        // ten races in a row (seen in CI at load 13), so the bound here is generous.
        attempts += (await increment(adapter, key, () => new Promise((r) => setImmediate(r)), { maxAttempts: 1000 })).attempts;
      }
      return attempts;
    };
    const [attemptsA, attemptsB] = await Promise.all([run(a), run(b)]);
    assert.equal(await a.command(['GET', key]), String(2 * perClient));
    console.log(`watch race: ${2 * perClient} increments took ${attemptsA + attemptsB} attempts (${attemptsA + attemptsB - 2 * perClient} re-runs)`);
  });

  it('gives up after maxAttempts with a TransactionError that carries the attempt count', async () => {
    const key = 'race:always';
    await assert.rejects(
      a.watch(
        [key],
        async (ctx) => {
          await b.command(['INCR', key]); // someone else always writes in between
          ctx.queue(['SET', key, 'never']);
        },
        { maxAttempts: 3 },
      ),
      (error: unknown) => error instanceof TransactionError && error.attempts === 3,
    );
    assert.notEqual(await a.command(['GET', key]), 'never');
    assert.equal(await a.command(['GET', key]), '3');
  });

  it('a callback that throws applies nothing and the connection is clean for the next caller', async () => {
    const key = 'watch:throws';
    await assert.rejects(
      a.watch([key], async (ctx) => {
        ctx.queue(['SET', key, 'x']);
        throw new Error('abandon');
      }),
      /abandon/,
    );
    assert.equal(await a.command(['EXISTS', key]), 0);
    // The next watch() reuses the pooled connection: had the WATCH on `key` been left in place, this write to `key`
    // would abort the next, unrelated EXEC.
    await b.command(['SET', key, 'changed']);
    const result = await a.watch(['watch:other'], async (ctx) => {
      ctx.queue(['SET', 'watch:other', 'ok']);
    });
    assert.equal(result.attempts, 1);
  });

  it('refuses bad arguments with usage errors', async () => {
    await assert.rejects(a.watch([], async () => undefined), UsageError);
    await assert.rejects(a.watch(['k'], async () => undefined, { maxAttempts: 0 }), UsageError);
    await assert.rejects(a.watch(['k'], 'not a function' as never), UsageError);
  });
});
