import { createHash } from 'node:crypto';
import type { DatabaseAdapter, SqlDatabaseAdapter } from '../../../adapters/database-adapter.js';
import { DataLifecycleError, QueryError, TimeoutError } from '../../../errors/index.js';
import type { LifecycleDriver, LifecycleRow, TargetInspection } from '../../../lifecycle/lifecycle-part.js';
import { asSqlAdapter } from '../../sql/as-sql-adapter.js';
import { insertMariadbRecords } from './insert-mariadb-records.js';
import { inspectMariadbTarget, type MariadbTarget } from './inspect-mariadb-target.js';
import { keyAfter, keyIn, keyOrder } from './mariadb-key-sql.js';
import { withLifecycleSession } from './with-lifecycle-session.js';

function target(inspection: TargetInspection): MariadbTarget {
  return inspection as MariadbTarget;
}

function rowsOf(result: readonly { k: string; r: string }[]): LifecycleRow[] {
  return result.map((row) => ({ key: JSON.parse(row.k) as unknown[], record: row.r }));
}

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/**
 * Runs `statement` in a transaction of its own whose lock waits (row locks: innodb_lock_wait_timeout; table metadata:
 * lock_wait_timeout) end after the policy's lockTimeout, rounded up to whole seconds as the server counts them. A
 * lock wait timeout or a deadlock rolls the batch back and is a 'contended' error: the run loop retries it later.
 */
async function removeInTransaction(adapter: SqlDatabaseAdapter, policy: string, lockTimeoutMs: number, statement: string, params: unknown[]): Promise<{ removed: number; lockWaitMs: number }> {
  return withLifecycleSession(adapter, lockTimeoutMs, async (session) => {
    await session.execute('START TRANSACTION');
    try {
      const started = performance.now();
      const removed = await session.execute(statement, params);
      const lockWaitMs = performance.now() - started;
      await session.execute('COMMIT');
      return { removed, lockWaitMs };
    } catch (error) {
      await session.execute('ROLLBACK').catch(() => undefined);
      if ((error instanceof TimeoutError && error.kind === 'lock') || (error instanceof QueryError && error.sqlState === '40001')) {
        throw new DataLifecycleError('contended', policy, `could not get a lock within ${Math.max(1, Math.ceil(lockTimeoutMs / 1000))} s (lockTimeout, in whole seconds on MariaDB/MySQL); nothing of this batch was removed`, { cause: error });
      }
      throw error;
    }
  });
}

/** Which replica status statement this server answers (MariaDB: SHOW ALL SLAVES STATUS; MySQL 8.0.22+: SHOW REPLICA STATUS). */
const replicaStatement = new WeakMap<DatabaseAdapter, string | null>();

/**
 * Data lifecycle on MariaDB and MySQL: primary-key-ordered batches whose records are JSON objects of exact texts
 * (DATETIME(6) microseconds, DECIMAL and BIGINT digits, bytes as hex), each delete one short transaction bounded by
 * the lock wait timeouts. Partitions are not dropped whole on this engine (yet): partitioned tables go row by row.
 */
export const mariadbLifecycle: LifecycleDriver = {
  targets: 'table',

  inspect: (adapter, policy) => inspectMariadbTarget(asSqlAdapter(adapter), policy),

  async count(adapter, _policy, inspection) {
    const t = target(inspection);
    return withLifecycleSession(asSqlAdapter(adapter), undefined, async (session) => {
      const v = [...t.conditionValues];
      const [counts] = await session.query<{ n: number | string; total: number | string }>(`SELECT COUNT(CASE WHEN ${t.condition} THEN 1 END) AS n, COUNT(*) AS total FROM ${t.relation}`, v);
      const edge = async (direction: 'ASC' | 'DESC') => {
        const rows = await session.query<{ k: string }>(`SELECT ${t.keyText} AS k FROM ${t.relation} WHERE ${t.condition} ORDER BY ${keyOrder(t.keyColumns, direction)} LIMIT 1`, v);
        return rows[0] ? (JSON.parse(rows[0].k) as unknown[]) : undefined;
      };
      return { rows: Number(counts?.n ?? 0), total: Number(counts?.total ?? 0), firstKey: await edge('ASC'), lastKey: await edge('DESC') };
    });
  },

  async nextBatch(adapter, _policy, inspection, after, limit) {
    const t = target(inspection);
    const range = after === undefined ? undefined : keyAfter(t.keyColumns, after);
    const rows = await withLifecycleSession(asSqlAdapter(adapter), undefined, (session) =>
      session.query<{ k: string; r: string }>(
        `SELECT ${t.keyText} AS k, ${t.record} AS r FROM ${t.relation} WHERE ${t.condition}${range ? ` AND ${range.sql}` : ''} ORDER BY ${keyOrder(t.keyColumns)} LIMIT ${Math.floor(limit)}`,
        [...t.conditionValues, ...(range?.params ?? [])],
      ),
    );
    return { rows: rowsOf(rows) };
  },

  async remove(adapter, policy, inspection, rows, { lockTimeoutMs, exact }) {
    if (rows.length === 0) return { removed: 0, lockWaitMs: 0 };
    const t = target(inspection);
    const keys = keyIn(t.keyColumns, rows.map((r) => r.key));
    if (exact) {
      // Only rows whose whole record is still the archived one (a record holds its key, so one hash matches one row).
      const hashes = [...new Set(rows.map((r) => md5(r.record)))];
      const statement = `DELETE FROM ${t.relation} WHERE ${keys.sql} AND MD5(${t.record}) IN (${hashes.map(() => '?').join(', ')})`;
      return removeInTransaction(asSqlAdapter(adapter), policy.name, lockTimeoutMs, statement, [...keys.params, ...hashes]);
    }
    const statement = `DELETE FROM ${t.relation} WHERE ${keys.sql} AND ${t.condition}`;
    return removeInTransaction(asSqlAdapter(adapter), policy.name, lockTimeoutMs, statement, [...keys.params, ...t.conditionValues]);
  },

  async fetch(adapter, inspection, keys) {
    if (keys.length === 0) return [];
    const t = target(inspection);
    const where = keyIn(t.keyColumns, keys);
    const rows = await withLifecycleSession(asSqlAdapter(adapter), undefined, (session) =>
      session.query<{ k: string; r: string }>(`SELECT ${t.keyText} AS k, ${t.record} AS r FROM ${t.relation} WHERE ${where.sql} ORDER BY ${keyOrder(t.keyColumns)}`, where.params),
    );
    return rowsOf(rows);
  },

  insert: (adapter, into, records) => insertMariadbRecords(asSqlAdapter(adapter), into, records),

  async pressure(adapter) {
    const sql = asSqlAdapter(adapter);
    let statement = replicaStatement.get(adapter);
    let rows: Record<string, unknown>[] = [];
    if (statement === undefined) {
      statement = null;
      for (const candidate of ['SHOW ALL SLAVES STATUS', 'SHOW REPLICA STATUS']) {
        try {
          rows = await sql.query(candidate);
          statement = candidate;
          break;
        } catch (error) {
          // Not this server's statement, or no REPLICATION CLIENT / SLAVE MONITOR privilege: try the other one.
          if (!(error instanceof QueryError)) throw error;
        }
      }
      replicaStatement.set(adapter, statement);
    } else if (statement !== null) {
      rows = await sql.query(statement);
    }
    // NULL means the replica's SQL thread is not running: its lag is unknown, and health() reports the broken replica.
    const lags = rows.map((r) => r.Seconds_Behind_Master ?? r.Seconds_Behind_Source).filter((v) => v !== null && v !== undefined).map(Number);
    return { replicaLagSeconds: lags.length ? Math.max(...lags) : undefined };
  },
};
