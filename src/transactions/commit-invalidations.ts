import type { TransactionContext } from '../adapters/database-adapter.js';
import { UsageError } from '../errors/index.js';
import { DistributedTransactionError } from './distributed-transaction-error.js';

/** What `tx.invalidate()` takes: a cache key (`'user:1'` or `{key}`) or every key stored under a tag (`{tag}`). */
export type InvalidationTarget = string | { readonly key: string } | { readonly tag: string };

/** What receives the invalidations of a committed transaction (the cache; registered by the DataManager). */
export interface CommitInvalidator {
  /** Applies the invalidations; never throws (a cache that cannot reach its shared tier keeps them for later). */
  invalidate(targets: readonly InvalidationTarget[]): Promise<void>;
}

/** A transaction context that also collects cache invalidations for after its commit. */
export interface Invalidating {
  /**
   * Invalidates a cache key or tag once this transaction has committed: never before the commit, never after a
   * rollback. The transaction's promise resolves after the invalidation took effect.
   */
  invalidate(target: InvalidationTarget | readonly InvalidationTarget[]): void;
}

export type InvalidatingContext<C extends object = TransactionContext> = C & Invalidating;

/**
 * Runs a transaction whose contexts collect invalidations, and applies them when it may have committed. `run` gets
 * `wrap`, which adds `invalidate` to a context (and to the contexts of nested `transaction()` calls), and `attempt`,
 * which a body calls when it starts (a retried body starts with nothing collected). The collected invalidations apply:
 * - after `run` resolves (committed);
 * - after a failure that came once the body had returned (the commit failed or its answer was lost: the outcome is
 *   unknown, and an extra invalidation is harmless while a missed one leaves a stale value), except a distributed
 *   transaction known to have aborted;
 * never after the body threw (rolled back).
 */
export async function withCommitInvalidations<T>(
  invalidator: CommitInvalidator | undefined,
  run: (wrap: <C extends object>(tx: C) => InvalidatingContext<C>, body: <R>(work: () => Promise<R>) => Promise<R>) => Promise<T>,
  /**
   * A distributed transaction answered before its branches committed (phase 2 in the background): the promise that
   * settles once they have. The invalidations then apply after it, and the result's `settled` resolves after them.
   */
  settledOf?: (value: T) => Promise<unknown>,
): Promise<T> {
  let pending: InvalidationTarget[] = [];
  let bodyDone = false;
  const wrap = <C extends object>(tx: C): InvalidatingContext<C> => {
    const wrapped = Object.create(tx) as InvalidatingContext<C> & { transaction?: unknown };
    wrapped.invalidate = (target) => {
      if (invalidator === undefined) throw new UsageError('tx.invalidate', 'this transaction manager has no cache; use dm.transaction() or dm.transactions of a DataManager');
      for (const t of Array.isArray(target) ? (target as readonly InvalidationTarget[]) : [target as InvalidationTarget]) pending.push(checkTarget(t));
    };
    const nested = (tx as { transaction?: unknown }).transaction;
    if (typeof nested === 'function') {
      wrapped.transaction = <R>(inner: (t: TransactionContext) => Promise<R>) => (nested as (f: (t: TransactionContext) => Promise<R>) => Promise<R>).call(tx, (t) => inner(wrap(t)));
    }
    return wrapped;
  };
  const body = async <R>(work: () => Promise<R>): Promise<R> => {
    pending = [];
    bodyDone = false;
    const value = await work();
    bodyDone = true;
    return value;
  };
  let value: T;
  try {
    value = await run(wrap, body);
  } catch (error) {
    const aborted = error instanceof DistributedTransactionError && error.outcome === 'aborted';
    if (bodyDone && !aborted && pending.length > 0) await invalidator?.invalidate(pending);
    throw error;
  }
  if (settledOf && pending.length > 0) {
    const targets = pending;
    const settled = settledOf(value).then(async (outcome) => {
      await invalidator?.invalidate(targets);
      return outcome;
    });
    return { ...value, settled };
  }
  if (pending.length > 0) await invalidator?.invalidate(pending);
  return value;
}

function checkTarget(target: InvalidationTarget): InvalidationTarget {
  if (typeof target === 'string' && target !== '') return target;
  if (typeof target === 'object' && target !== null) {
    const t = target as { key?: unknown; tag?: unknown };
    if ((typeof t.key === 'string' && t.key !== '') || (typeof t.tag === 'string' && t.tag !== '')) return target;
  }
  throw new UsageError('tx.invalidate(target)', `expected a key ("user:1"), {key: "user:1"} or {tag: "users"}, got ${JSON.stringify(target) ?? String(target)}`);
}
