import type { Row, TransactionContext } from '../../adapters/database-adapter.js';
import { CapabilityError, TimeoutError, TransactionError, UsageError } from '../../errors/index.js';

const SAVEPOINT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export interface BranchStatements {
  query(sql: string, params: readonly unknown[] | undefined): Promise<Row[]>;
  execute(sql: string, params: readonly unknown[] | undefined): Promise<number>;
  script?(sql: string): Promise<void>;
}

/** Tracks a branch's health: a failed statement not rolled back to a savepoint forbids the prepare. */
export interface BranchState {
  aborted: boolean;
  closed: boolean;
}

/**
 * The TransactionContext of a SQL branch: statements on the branch's session, refused after the transaction's
 * deadline, and savepoints in plain SQL (both engines accept them inside a prepared-to-be transaction).
 */
export function sqlBranchContext(adapterId: string, statements: BranchStatements, state: BranchState, deadline: number, depth = 1): TransactionContext {
  let counter = 0;
  const run = async <R>(call: () => Promise<R>): Promise<R> => {
    if (state.closed) throw new TransactionError(adapterId, 'the distributed transaction has already ended; keep statements inside the callback and await them');
    if (Date.now() > deadline) throw new TimeoutError('operation', `${adapterId}: the distributed transaction passed its timeout; it will be rolled back`);
    try {
      return await call();
    } catch (error) {
      state.aborted = true;
      throw error;
    }
  };
  const control = async (statement: string) => {
    await run(() => statements.execute(statement, undefined));
  };
  const checkName = (name: string) => {
    if (!SAVEPOINT_NAME.test(name)) throw new UsageError('savepoint', `"${name}" is not a valid savepoint name; use letters, digits and _ (max 63), starting with a letter or _`);
  };
  const context: TransactionContext = {
    adapterId,
    depth,
    query: async <T extends Row = Row>(sql: string, params?: readonly unknown[]) => (await run(() => statements.query(sql, params))) as T[],
    execute: (sql: string, params?: readonly unknown[]) => run(() => statements.execute(sql, params)),
    savepoint: async (name?: string) => {
      if (name !== undefined) checkName(name);
      counter += 1;
      const chosen = name ?? `dk_sp_${depth}_${counter}`;
      await control(`SAVEPOINT ${chosen}`);
      return chosen;
    },
    rollbackTo: async (name: string) => {
      checkName(name);
      await control(`ROLLBACK TO SAVEPOINT ${name}`);
      state.aborted = false;
    },
    release: async (name: string) => {
      checkName(name);
      await control(`RELEASE SAVEPOINT ${name}`);
    },
    transaction: async <T>(fn: (tx: TransactionContext) => Promise<T>) => {
      const name = await context.savepoint();
      const inner = sqlBranchContext(adapterId, statements, state, deadline, depth + 1);
      try {
        const result = await fn(inner);
        await context.release(name);
        return result;
      } catch (error) {
        await context.rollbackTo(name);
        throw error;
      }
    },
    script: async (sql: string) => {
      if (!statements.script) throw new CapabilityError(adapterId, 'script() in a distributed branch', 'an XA branch runs one statement at a time', 'Run the statements one by one with execute()');
      if (state.closed) throw new TransactionError(adapterId, 'the distributed transaction has already ended');
      try {
        await statements.script(sql);
      } catch (error) {
        state.aborted = true;
        throw error;
      }
    },
  };
  return context;
}
