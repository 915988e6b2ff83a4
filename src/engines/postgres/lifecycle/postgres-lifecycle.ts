import { createHash } from 'node:crypto';
import type { DatabaseAdapter, SqlDatabaseAdapter } from '../../../adapters/database-adapter.js';
import { DataLifecycleError, QueryError } from '../../../errors/index.js';
import type { LifecycleDriver, LifecycleRow, PartitionInfo, TargetInspection } from '../../../lifecycle/lifecycle-part.js';
import { asSqlAdapter } from '../../sql/as-sql-adapter.js';
import { inspectPostgresTarget, type PostgresTarget } from './inspect-postgres-target.js';

/** lock_not_available: a lock_timeout expired. */
const LOCK_NOT_AVAILABLE = '55P03';

function target(inspection: TargetInspection): PostgresTarget {
  return inspection as PostgresTarget;
}

/** `(k1, k2)` and the matching `unnest($n::t1[], $m::t2[])` column list for a key. */
function keyTuple(t: PostgresTarget, alias = 't'): string {
  return `(${t.keyColumns.map((k) => `${alias}.${k.quoted}`).join(', ')})`;
}

function keyText(t: PostgresTarget): string {
  return `ARRAY[${t.keyColumns.map((k) => `t.${k.quoted}::text`).join(', ')}]`;
}

/** Key values by column (text, cast back by PostgreSQL to the key's types), for `unnest`. */
function keyArrays(keys: readonly (readonly unknown[])[], width: number): string[][] {
  return Array.from({ length: width }, (_, i) => keys.map((k) => String(k[i])));
}

function unnestKeys(t: PostgresTarget, first: number): string {
  return `unnest(${t.keyColumns.map((k, i) => `$${first + i}::${k.type}[]`).join(', ')})`;
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

function rowsOf(result: readonly { k: string[]; r: string }[]): LifecycleRow[] {
  return result.map((row) => ({ key: row.k, record: row.r }));
}

/** Runs `fn` in a transaction whose lock waits end at `lockTimeoutMs` with a 'contended' error. */
async function withLockTimeout<T>(adapter: SqlDatabaseAdapter, policy: string, lockTimeoutMs: number, fn: (run: (sql: string, params: unknown[]) => Promise<number>) => Promise<T>): Promise<T> {
  try {
    return await adapter.transaction(async (tx) => {
      await tx.execute(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
      return fn((sql, params) => tx.execute(sql, params));
    }, { maxAttempts: 1 });
  } catch (error) {
    if (error instanceof QueryError && error.sqlState === LOCK_NOT_AVAILABLE) {
      throw new DataLifecycleError('contended', policy, `could not get a lock within ${lockTimeoutMs} ms (lockTimeout); nothing of this batch was removed`, { cause: error });
    }
    throw error;
  }
}

/**
 * Data lifecycle on PostgreSQL: key-ordered batches with `to_json` records (exact: microseconds, numerics, bytea),
 * each delete one short transaction under `lock_timeout`; expired range partitions detached CONCURRENTLY and dropped,
 * as pg_partman does, but never waiting on a lock longer than the policy allows.
 */
export const postgresLifecycle: LifecycleDriver = {
  targets: 'table',

  inspect: (adapter, policy) => inspectPostgresTarget(asSqlAdapter(adapter), policy),

  async count(adapter, policy, inspection) {
    const t = target(inspection);
    const sql = asSqlAdapter(adapter);
    const v = t.conditionValues;
    const [counts] = await sql.query<{ rows: string; total: string }>(`SELECT count(*) FILTER (WHERE ${t.condition}) AS rows, count(*) AS total FROM ${t.relation} t WHERE $${v.length + 1}::int = 1`, [...v, 1]);
    const edge = async (direction: 'ASC' | 'DESC') => {
      const order = t.keyColumns.map((k) => `t.${k.quoted} ${direction}`).join(', ');
      const rows = await sql.query<{ k: string[] }>(`SELECT ${keyText(t)} AS k FROM ${t.relation} t WHERE ${t.condition} AND $${v.length + 1}::int = 1 ORDER BY ${order} LIMIT 1`, [...v, 1]);
      return rows[0]?.k;
    };
    return { rows: Number(counts?.rows ?? 0), total: Number(counts?.total ?? 0), firstKey: await edge('ASC'), lastKey: await edge('DESC') };
  },

  async survey(adapter, _policy, inspection) {
    const t = target(inspection);
    const sql = asSqlAdapter(adapter);
    const v = t.conditionValues;
    // Whether any row does not match: found at once on any table worth a policy, and exact (NULLs do not match).
    const [some] = await sql.query<{ other: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${t.relation} t WHERE (${t.condition}) IS NOT TRUE AND $${v.length + 1}::int = 1) AS other`, [...v, 1]);
    const [plan] = await sql.query<{ 'QUERY PLAN': { Plan: { 'Plan Rows': number } }[] }>(`EXPLAIN (FORMAT JSON) SELECT 1 FROM ${t.relation} t WHERE ${t.condition} AND $${v.length + 1}::int = 1`, [...v, 1]);
    const [total] = await sql.query<{ n: string }>(`SELECT greatest(reltuples, 0)::bigint AS n FROM pg_class WHERE oid = $1::regclass`, [t.relation]);
    const rowsEstimate = Math.round(plan?.['QUERY PLAN'][0]?.Plan['Plan Rows'] ?? 0);
    const anyMatch = (await sql.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${t.relation} t WHERE ${t.condition} AND $${v.length + 1}::int = 1) AS any`, [...v, 1]))[0]?.any === true;
    const matchesAll = !some?.other && anyMatch;
    // The refusal names the exact number; the (rare) case of a table whose every row matches is worth a count.
    const exact = matchesAll ? Number((await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${t.relation} WHERE $1::int = 1`, [1]))[0]?.n ?? 0) : undefined;
    return { matchesAll, total: exact ?? Number(total?.n ?? 0), rowsEstimate: exact ?? rowsEstimate };
  },

  async nextBatch(adapter, policy, inspection, after, limit) {
    const t = target(inspection);
    // An expired partition is read whole; otherwise the policy's condition picks the rows.
    const relation = policy.partition ?? t.relation;
    const condition = policy.partition === undefined ? t.condition : 'true';
    const values = policy.partition === undefined ? [...t.conditionValues] : [];
    const afterClause = after === undefined ? '' : ` AND ${keyTuple(t)} > (${t.keyColumns.map((k, i) => `$${values.length + 1 + i}::${k.type}`).join(', ')})`;
    const params = after === undefined ? [...values] : [...values, ...after.map(String)];
    const order = t.keyColumns.map((k) => `t.${k.quoted}`).join(', ');
    const rows = await asSqlAdapter(adapter).query<{ k: string[]; r: string }>(
      `SELECT ${keyText(t)} AS k, to_json(t)::text AS r FROM ${relation} t WHERE ${condition}${afterClause} AND $${params.length + 1}::int = 1 ORDER BY ${order} LIMIT ${Math.floor(limit)}`,
      [...params, 1],
    );
    return { rows: rowsOf(rows) };
  },

  async remove(adapter, policy, inspection, rows, { lockTimeoutMs, exact }) {
    if (rows.length === 0) return { removed: 0, lockWaitMs: 0 };
    const t = target(inspection);
    const width = t.keyColumns.length;
    const keys = keyArrays(rows.map((r) => r.key), width);
    const matchKeys = t.keyColumns.map((k, i) => `t.${k.quoted} = x.k${i}`).join(' AND ');
    const xColumns = [...t.keyColumns.map((_, i) => `k${i}`), 'h'].join(', ');
    let statement: string;
    let params: unknown[];
    if (exact) {
      // Only rows whose whole record is still the archived one: a row changed since it was read stays.
      const unnest = `unnest(${t.keyColumns.map((k, i) => `$${1 + i}::${k.type}[]`).join(', ')}, $${width + 1}::text[])`;
      statement = `DELETE FROM ${t.relation} t USING ${unnest} AS x(${xColumns}) WHERE ${matchKeys} AND md5(to_json(t)::text) = x.h`;
      params = [...keys, rows.map((r) => md5(r.record))];
    } else {
      const v = t.conditionValues;
      statement = `DELETE FROM ${t.relation} t USING ${unnestKeys(t, v.length + 1)} AS x(${t.keyColumns.map((_, i) => `k${i}`).join(', ')}) WHERE ${matchKeys} AND ${t.condition}`;
      params = [...v, ...keys];
    }
    return withLockTimeout(asSqlAdapter(adapter), policy.name, lockTimeoutMs, async (run) => {
      const started = performance.now();
      const removed = await run(statement, params);
      return { removed, lockWaitMs: performance.now() - started };
    });
  },

  async fetch(adapter, inspection, keys) {
    if (keys.length === 0) return [];
    const t = target(inspection);
    const width = t.keyColumns.length;
    const matchKeys = t.keyColumns.map((k, i) => `t.${k.quoted} = x.k${i}`).join(' AND ');
    const rows = await asSqlAdapter(adapter).query<{ k: string[]; r: string }>(
      `SELECT ${keyText(t)} AS k, to_json(t)::text AS r FROM ${t.relation} t, ${unnestKeys(t, 1)} AS x(${t.keyColumns.map((_, i) => `k${i}`).join(', ')}) WHERE ${matchKeys}`,
      keyArrays(keys, width),
    );
    return rowsOf(rows);
  },

  async insert(adapter, into, records) {
    if (records.length === 0) return 0;
    const sql = asSqlAdapter(adapter);
    const found = await sql.query<{ relation: string; columns: string | null }>(
      `SELECT c.oid::regclass::text AS relation, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) AS columns
         FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
        WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p') GROUP BY c.oid`,
      [into],
    );
    const destination = found[0];
    if (!destination?.columns) throw new DataLifecycleError('unknown-target', undefined, `table "${into}" does not exist in ${adapter.id}; create it (with the archived table's columns) or restore into the original table`);
    const columns = destination.columns;
    let inserted = 0;
    await sql.transaction(async (tx) => {
      for (let i = 0; i < records.length; i += 1000) {
        const chunk = records.slice(i, i + 1000);
        // json_populate_recordset reads each record with the destination's own types: the archived text round-trips.
        inserted += await tx.execute(
          `INSERT INTO ${destination.relation} (${columns}) OVERRIDING SYSTEM VALUE SELECT ${columns} FROM json_populate_recordset(NULL::${destination.relation}, $1::json)`,
          [`[${chunk.join(',')}]`],
        );
      }
    });
    return inserted;
  },

  async detachPartition(adapter, inspection, partition: PartitionInfo, lockTimeoutMs) {
    const t = target(inspection);
    const sql = asSqlAdapter(adapter);
    await sql.withSession(async (session) => {
      await session.script(`SET lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
      try {
        // CONCURRENTLY takes only a SHARE UPDATE EXCLUSIVE lock on the parent: readers and writers go on. It cannot
        // run when the table has a default partition; then a plain DETACH, bounded by lock_timeout, does.
        const hasDefault = (await session.query<{ n: string }>(`SELECT count(*) AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'`, [t.relation]))[0]?.n !== '0';
        await session.script(`ALTER TABLE ${t.relation} DETACH PARTITION ${partition.name}${hasDefault ? '' : ' CONCURRENTLY'}`);
      } catch (error) {
        // A cancelled CONCURRENTLY leaves the partition "detach pending": finish it rather than leave it half-way.
        const pending = await session.query<{ pending: boolean }>('SELECT inhdetachpending AS pending FROM pg_inherits WHERE inhrelid = $1::regclass', [partition.name]).catch(() => []);
        if (pending[0]?.pending) await session.script(`ALTER TABLE ${t.relation} DETACH PARTITION ${partition.name} FINALIZE`);
        else if (error instanceof QueryError && error.sqlState === LOCK_NOT_AVAILABLE) throw new DataLifecycleError('contended', undefined, `could not detach ${partition.name} within ${lockTimeoutMs} ms (lockTimeout)`, { cause: error });
        else throw error;
      } finally {
        await session.script('RESET lock_timeout').catch(() => undefined);
      }
    });
    return partition.name;
  },

  async dropTable(adapter, table, lockTimeoutMs) {
    await withLockTimeout(asSqlAdapter(adapter), table, lockTimeoutMs, (run) => run(`DROP TABLE IF EXISTS ${table}`, []));
  },

  async pressure(adapter: DatabaseAdapter) {
    // replay_lag is NULL once a replica has caught up with an idle primary: that is no lag, not an unknown one.
    const rows = await asSqlAdapter(adapter).query<{ n: string; lag: number | null }>('SELECT count(*) AS n, max(extract(epoch FROM coalesce(replay_lag, interval \'0\')))::float8 AS lag FROM pg_stat_replication WHERE $1::int = 1', [1]);
    const row = rows[0];
    return { replicaLagSeconds: !row || row.n === '0' ? undefined : Number(row.lag ?? 0) };
  },
};
