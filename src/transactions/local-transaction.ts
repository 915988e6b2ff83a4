import type { DatabaseAdapter, Row, TransactionContext } from '../adapters/database-adapter.js';
import { optionalEnginePart } from '../engines/engine-registry.js';
import { TimeoutError, UsageError } from '../errors/index.js';
import type { LocalDeadline } from './transaction-part.js';
import type { LocalTransactionOptions } from './transaction-types.js';

/**
 * A transaction on one database through its adapter's own `transaction()` (isolation levels, read only, savepoints,
 * nested calls as savepoints, serialization retries: all the adapter's), plus a time limit:
 * - what the engine's `deadline` part adds so that the server itself stops a stuck statement (PostgreSQL:
 *   `SET LOCAL statement_timeout`; MariaDB/MySQL: `SET STATEMENT max_statement_time = <time left> FOR ...`; MongoDB:
 *   the adapter's `timeLimitMs`);
 * - every engine: statements after the deadline are refused, and a callback that returns after it is rolled back.
 */
export async function runLocalTransaction<T>(adapter: DatabaseAdapter, fn: (tx: TransactionContext) => Promise<T>, options: LocalTransactionOptions = {}): Promise<T> {
  const { timeout, ...adapterOptions } = options;
  if (timeout === undefined) return adapter.transaction(fn, adapterOptions);
  if (!Number.isInteger(timeout) || timeout < 1) throw new UsageError('options.timeout', `expected an integer >= 1 (milliseconds), got ${String(timeout)}`);
  const engine: LocalDeadline = optionalEnginePart(adapter, 'transactions')?.deadline ?? {};
  // An engine whose adapter takes the limit itself (MongoDB's timeLimitMs) enforces all of it there.
  if (engine.adapterOptions) return adapter.transaction(fn, { ...adapterOptions, ...engine.adapterOptions(timeout) } as LocalTransactionOptions);
  // A re-run after a serialization failure gets what is left of the same deadline, not a fresh one.
  const deadline = Date.now() + timeout;
  return adapter.transaction(async (tx) => {
    if (engine.begin) await tx.execute(engine.begin(deadline - Date.now()));
    const result = await fn(boundContext(adapter, engine, tx, deadline, timeout));
    if (Date.now() > deadline) throw expired(adapter.id, timeout);
    return result;
  }, adapterOptions);
}

function expired(adapterId: string, timeout: number): TimeoutError {
  return new TimeoutError('operation', `${adapterId}: the transaction took longer than its timeout of ${timeout} ms and was rolled back`, { timeoutMs: timeout });
}

function boundContext(adapter: DatabaseAdapter, engine: LocalDeadline, tx: TransactionContext, deadline: number, timeout: number): TransactionContext {
  const check = () => {
    if (Date.now() > deadline) throw expired(adapter.id, timeout);
  };
  const text = (sql: string) => {
    if (!engine.statement || typeof sql !== 'string') return sql;
    return engine.statement(sql, deadline - Date.now());
  };
  // The adapter's own context stays the prototype, so engine-specific members (Redis `queue`) keep working.
  const bounded = Object.create(tx) as TransactionContext & Record<string, unknown>;
  Object.assign(bounded, {
    query: async <R extends Row = Row>(sql: string, params?: readonly unknown[]) => {
      check();
      return tx.query<R>(text(sql), params);
    },
    execute: async (sql: string, params?: readonly unknown[]) => {
      check();
      return tx.execute(text(sql), params);
    },
    script: async (sql: string) => {
      check();
      return tx.script(sql);
    },
    transaction: async <R>(inner: (t: TransactionContext) => Promise<R>) => {
      check();
      return tx.transaction((t) => inner(boundContext(adapter, engine, t, deadline, timeout)));
    },
  });
  return bounded;
}
