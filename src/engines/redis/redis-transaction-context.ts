import type { TransactionContext } from '../../adapters/database-adapter.js';
import type { RedisCommand } from './redis-command.js';

/**
 * What `RedisAdapter.transaction(fn)` hands to `fn`. Redis runs MULTI/EXEC atomically but returns replies only at
 * EXEC, so `fn` queues commands with `queue()` and they are sent as one MULTI ... EXEC block after `fn` returns.
 * Nothing is sent while `fn` runs: if `fn` throws, nothing was applied. Read with `adapter.command()` before queueing
 * (and use `adapter.watch()` when the writes depend on those reads), or call `adapter.multi(commands)` to get EXEC's
 * replies. SQL (`query`/`execute`), savepoints and nested transactions are CapabilityErrors.
 */
export interface RedisTransactionContext extends TransactionContext {
  /** Queues a command (line or array, plus extra arguments) for EXEC; returns its index among the queued commands. */
  queue(command: RedisCommand, params?: readonly unknown[]): number;
  /** How many commands are queued. */
  readonly queued: number;
}

/** What `RedisAdapter.watch(keys, fn)` hands to `fn` on each attempt. */
export interface RedisWatchContext {
  readonly adapterId: string;
  /** 1 on the first run of `fn`, 2 after the first aborted EXEC, ... */
  readonly attempt: number;
  /** Runs a command now, on the connection that holds the WATCH (reads see the watched keys' current values). */
  command(command: RedisCommand, params?: readonly unknown[]): Promise<unknown>;
  /** Queues a command for the MULTI ... EXEC that runs after `fn` returns; returns its index among the replies. */
  queue(command: RedisCommand, params?: readonly unknown[]): number;
}

export interface RedisWatchOptions {
  /** How many times `fn` may run when EXEC aborts because a watched key changed (default 10). */
  maxAttempts?: number;
}

export interface RedisWatchResult<T> {
  /** What `fn` returned on the attempt that committed. */
  readonly value: T;
  /** EXEC's replies, one per queued command. (A command that fails inside EXEC makes `watch` throw instead.) */
  readonly replies: readonly unknown[];
  /** How many times `fn` ran. */
  readonly attempts: number;
}
