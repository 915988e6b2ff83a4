import type { SqlDatabaseAdapter } from '../../../adapters/database-adapter.js';
import { DataLifecycleError, QueryError } from '../../../errors/index.js';
import { closestName } from '../../../config/closest-name.js';
import type { BoundPolicy, PartitionInfo, TargetInspection } from '../../../lifecycle/lifecycle-part.js';

/** A table as the PostgreSQL lifecycle driver uses it: quoted names and types, ready to go into statements. */
export interface PostgresTarget extends TargetInspection {
  /** `schema.table`, quoted as PostgreSQL prints a regclass. */
  readonly relation: string;
  /** Quoted key columns and their types, in key order. */
  readonly keyColumns: readonly { readonly quoted: string; readonly type: string }[];
  /** Quoted columns an INSERT may write (generated columns left out). */
  readonly insertable: readonly string[];
  /** The WHERE condition of the policy (on alias `t`), with `$1` the cutoff when there is an age. */
  readonly condition: string;
  /** The values of the condition's parameters (the cutoff, or none); other parameters are numbered after them. */
  readonly conditionValues: readonly unknown[];
}

const TIME_TYPES = /^(timestamp|date)/;

/**
 * Reads the table's catalog entries and checks the policy against them before anything runs: the table exists, it
 * has a primary key, the age column exists and holds times, the condition is valid SQL on this table (EXPLAIN).
 */
export async function inspectPostgresTarget(adapter: SqlDatabaseAdapter, policy: BoundPolicy): Promise<PostgresTarget> {
  const name = policy.table;
  if (name === undefined) throw new DataLifecycleError('unknown-target', policy.name, `PostgreSQL policies name a table (got ${policy.collection !== undefined ? 'a collection' : 'a key pattern'})`);
  const found = await adapter.query<{ oid: number; relation: string; relkind: string }>('SELECT c.oid::int AS oid, c.oid::regclass::text AS relation, c.relkind FROM pg_class c WHERE c.oid = to_regclass($1)', [name]);
  const table = found[0];
  if (!table || !['r', 'p'].includes(table.relkind)) {
    const bare = name.split('.').pop()!.replace(/"/g, '');
    const tables = await adapter.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c WHERE c.relkind IN ('r','p') AND NOT c.relispartition AND pg_table_is_visible(c.oid)
          AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) AND $1::int = 1 LIMIT 5000`,
      [1],
    );
    const near = closestName(bare, tables.map((t) => t.relname));
    throw new DataLifecycleError('unknown-target', policy.name, `table "${name}" does not exist in ${adapter.id}${near ? `; did you mean "${near}"?` : ''}; check "table" (schema.table for another schema than the search path)`);
  }
  const columns = await adapter.query<{ name: string; quoted: string; type: string; generated: boolean }>(
    `SELECT attname AS name, quote_ident(attname) AS quoted, format_type(atttypid, atttypmod) AS type, attgenerated <> '' AS generated
       FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [table.oid],
  );
  const key = await adapter.query<{ name: string; quoted: string; type: string }>(
    `SELECT a.attname AS name, quote_ident(a.attname) AS quoted, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
      WHERE i.indrelid = $1 AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`,
    [table.oid],
  );
  if (key.length === 0) {
    throw new DataLifecycleError('no-key', policy.name, `table ${table.relation} has no primary key, which batches need to go in order and to delete exactly the rows read; add one`);
  }
  const parts: string[] = [];
  if (policy.age) {
    const column = columns.find((c) => c.name === policy.age!.column);
    const times = columns.filter((c) => TIME_TYPES.test(c.type)).map((c) => c.name);
    if (!column) throw new DataLifecycleError('unknown-column', policy.name, `table ${table.relation} has no column "${policy.age.column}"; set "timestampColumn" to one of its time columns (${times.join(', ') || 'it has none'})`);
    if (!TIME_TYPES.test(column.type)) throw new DataLifecycleError('unknown-column', policy.name, `column "${column.name}" of ${table.relation} is ${column.type}, not a date or timestamp; set "timestampColumn" to one of: ${times.join(', ') || 'none'}`);
    parts.push(`t.${column.quoted} < $1::timestamptz`);
  }
  if (policy.where !== undefined) parts.push(`(${policy.where})`);
  const condition = parts.length ? parts.join(' AND ') : 'true';
  try {
    // A parameter forces the extended protocol, which refuses a second statement smuggled into the condition.
    const values = policy.age ? [policy.cutoff] : [];
    await adapter.query(`EXPLAIN SELECT 1 FROM ${table.relation} t WHERE ${condition} AND $${values.length + 1}::int = 1`, [...values, 1]);
  } catch (error) {
    if (error instanceof QueryError) throw new DataLifecycleError('bad-condition', policy.name, `the condition does not work on ${table.relation}: ${error.message}; fix "where"`, { cause: error });
    throw error;
  }
  return {
    target: table.relation,
    relation: table.relation,
    key: key.map((k) => k.name),
    keyColumns: key.map((k) => ({ quoted: k.quoted, type: k.type })),
    schema: columns.map((c) => ({ name: c.name, type: c.type })),
    insertable: columns.filter((c) => !c.generated).map((c) => c.quoted),
    condition,
    conditionValues: policy.age ? [policy.cutoff] : [],
    partitions: table.relkind === 'p' ? await expiredPartitions(adapter, table.oid, policy) : undefined,
  };
}

/**
 * The partitions of a table range-partitioned on the policy's age column, oldest first, each marked expired when its
 * upper bound is at or before the cutoff (every row in it matches). Only for policies with an age and no condition.
 */
async function expiredPartitions(adapter: SqlDatabaseAdapter, oid: number, policy: BoundPolicy): Promise<PartitionInfo[]> {
  if (!policy.age || policy.where !== undefined || !policy.cutoff) return [];
  const keyDef = (await adapter.query<{ def: string }>('SELECT pg_get_partkeydef($1) AS def', [oid]))[0]?.def ?? '';
  const single = /^RANGE \(("?)([^,()"]+)\1\)$/.exec(keyDef);
  if (!single || single[2] !== policy.age.column) return [];
  const rows = await adapter.query<{ name: string; bound: string; upper: string | null; expired: boolean | null }>(
    `SELECT c.oid::regclass::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound,
            substring(pg_get_expr(c.relpartbound, c.oid) from 'TO \\(''([^'']+)''\\)') AS upper,
            substring(pg_get_expr(c.relpartbound, c.oid) from 'TO \\(''([^'']+)''\\)')::timestamptz <= $2 AS expired
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = $1 AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
      ORDER BY upper`,
    [oid, policy.cutoff],
  );
  return rows.map((r) => ({ name: r.name, bound: r.bound, expired: r.expired === true }));
}
