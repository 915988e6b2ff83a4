import type { Redis } from 'ioredis';
import type { TransactionContext, TransactionOptions } from '../../adapters/database-adapter.js';
import { CapabilityError, ConnectionError, TimeoutError, TransactionError, UsageError } from '../../errors/index.js';
import type { AdapterInstruments } from '../../metrics/adapter-instruments.js';
import { fullJitterDelay, sleep } from '../../resilience/backoff.js';
import type { DedicatedConnectionPool } from './dedicated-connection-pool.js';
import { toRedisArguments, type RedisCommand } from './redis-command.js';
import type { RedisArgs, RedisCommandRunner } from './redis-command-runner.js';
import type { RedisTransactionContext, RedisWatchContext, RedisWatchOptions, RedisWatchResult } from './redis-transaction-context.js';

/** What the transaction runner needs from its adapter. */
export interface RedisTransactionHost {
  readonly id: string;
  readonly instruments: AdapterInstruments;
  readonly commands: RedisCommandRunner;
  readonly dedicated: DedicatedConnectionPool;
  /** The command connection; throws the lifecycle error when the adapter is not connected. */
  requireClient(): Redis;
}

/**
 * MULTI/EXEC transactions (`transaction`: queue, then one block) and optimistic ones (`watch`: WATCH on a dedicated
 * connection, read, queue, EXEC, re-run when a watched key changed).
 */
export class RedisTransactions {
  constructor(private readonly host: RedisTransactionHost) {}

  /** See RedisAdapter.transaction. */
  async transaction<T>(fn: (tx: TransactionContext) => Promise<T>, options: TransactionOptions): Promise<T> {
    const { id, instruments: c } = this.host;
    if (typeof fn !== 'function') throw new UsageError('fn', 'expected a function (tx) => Promise<result>');
    if (options.isolationLevel !== undefined) {
      throw new CapabilityError(id, `isolation level "${options.isolationLevel}"`, 'Redis MULTI/EXEC has no isolation levels (a MULTI block runs alone, like serializable, but cannot read inside)', 'Drop isolationLevel; use watch(keys, fn) to read and then write atomically');
    }
    if (options.readOnly) {
      throw new CapabilityError(id, 'read-only transactions', 'MULTI/EXEC cannot refuse writes', 'Drop readOnly, or connect with an ACL user that may only run read commands');
    }
    if (options.maxAttempts !== undefined && (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1)) {
      throw new UsageError('options.maxAttempts', 'must be an integer >= 1');
    }
    const client = this.host.requireClient();
    const queued: RedisArgs[] = [];
    const state = { closed: false };
    let result: T;
    try {
      result = await fn(this.#transactionContext(queued, state));
    } catch (error) {
      c.rolledBack += 1;
      throw error;
    } finally {
      state.closed = true;
    }
    if (queued.length === 0) {
      c.committed += 1;
      return result;
    }
    let replies: unknown[] | null;
    try {
      replies = await this.host.commands.batch(client, queued, true);
    } catch (error) {
      c.rolledBack += 1;
      throw error;
    }
    c.committed += 1;
    this.host.commands.throwIfPartial(replies ?? [], queued);
    return result;
  }

  /** See RedisAdapter.watch. */
  async watch<T>(keys: readonly string[], fn: (ctx: RedisWatchContext) => Promise<T>, options: RedisWatchOptions): Promise<RedisWatchResult<T>> {
    const { id, instruments: c, commands } = this.host;
    if (!Array.isArray(keys) || keys.length === 0 || keys.some((k) => typeof k !== 'string' || k === '')) {
      throw new UsageError('keys', 'expected a non-empty array of key names (non-empty strings) to WATCH');
    }
    if (typeof fn !== 'function') throw new UsageError('fn', 'expected a function (ctx) => Promise<result>');
    const maxAttempts = options.maxAttempts ?? 10;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new UsageError('options.maxAttempts', 'must be an integer >= 1');
    this.host.requireClient();
    const connection = await this.host.dedicated.acquire();
    let broken = false;
    try {
      for (let attempt = 1; ; attempt += 1) {
        await commands.send(connection, ['WATCH', ...keys]);
        const queued: RedisArgs[] = [];
        const state = { closed: false };
        let value: T;
        try {
          value = await fn(this.#watchContext(connection, attempt, queued, state));
        } catch (error) {
          c.rolledBack += 1;
          await connection.call('UNWATCH').catch(() => {
            broken = true;
          });
          throw error;
        } finally {
          state.closed = true;
        }
        if (queued.length === 0) {
          await commands.send(connection, ['UNWATCH']);
          c.committed += 1;
          return { value, replies: [], attempts: attempt };
        }
        const replies = await commands.batch(connection, queued, true);
        if (replies === null) {
          if (attempt >= maxAttempts) {
            c.rolledBack += 1;
            throw new TransactionError(id, `EXEC aborted ${attempt} times because a watched key (${keys.join(', ')}) changed each time; raise options.maxAttempts or reduce contention on these keys`, { attempts: attempt });
          }
          c.retried += 1;
          // A short random pause keeps two contending callers from colliding in lock step.
          await sleep(fullJitterDelay(attempt, 2, 100));
          continue;
        }
        c.committed += 1;
        commands.throwIfPartial(replies, queued);
        return { value, replies, attempts: attempt };
      }
    } catch (error) {
      if (error instanceof ConnectionError || error instanceof TimeoutError) broken = true;
      throw error;
    } finally {
      this.host.dedicated.release(connection, broken);
    }
  }

  #transactionContext(queued: RedisArgs[], state: { closed: boolean }): RedisTransactionContext {
    const id = this.host.id;
    const ensureOpen = () => {
      if (state.closed) throw new TransactionError(id, 'the transaction has already ended; queue commands inside the callback');
    };
    const noSavepoints = () =>
      Promise.reject(new CapabilityError(id, 'savepoints', 'Redis MULTI/EXEC has neither savepoints nor rollback', 'Queue only the commands that must apply together, and use watch() to re-run on conflicts'));
    const noSql = () => Promise.reject(new CapabilityError(id, 'SQL in a transaction', 'Redis takes commands, not SQL', 'Queue commands with tx.queue(["SET", key, value])'));
    return {
      adapterId: id,
      depth: 1,
      queue: (command: RedisCommand, params?: readonly unknown[]) => {
        ensureOpen();
        return queue(queued, command, params);
      },
      get queued() {
        return queued.length;
      },
      query: noSql,
      execute: noSql,
      script: noSql,
      savepoint: noSavepoints,
      rollbackTo: noSavepoints,
      release: noSavepoints,
      transaction: () => Promise.reject(new CapabilityError(id, 'nested transactions', 'Redis has no savepoints to nest a MULTI block in', 'Queue the commands in the outer transaction')),
    };
  }

  #watchContext(connection: Redis, attempt: number, queued: RedisArgs[], state: { closed: boolean }): RedisWatchContext {
    const ensureOpen = () => {
      if (state.closed) throw new TransactionError(this.host.id, 'this watch() attempt has ended; run commands inside the callback and await them');
    };
    return {
      adapterId: this.host.id,
      attempt,
      command: async (command: RedisCommand, params?: readonly unknown[]) => {
        ensureOpen();
        return this.host.commands.send(connection, toRedisArguments(command, params) as RedisArgs);
      },
      queue: (command: RedisCommand, params?: readonly unknown[]) => {
        ensureOpen();
        return queue(queued, command, params);
      },
    };
  }
}

/** Queues a copy (the caller may reuse its array before EXEC); returns the command's index among the replies. */
function queue(queued: RedisArgs[], command: RedisCommand, params: readonly unknown[] | undefined): number {
  queued.push([...toRedisArguments(command, params)] as RedisArgs);
  return queued.length - 1;
}
