import type { SqlDatabaseAdapter } from '../../../adapters/database-adapter.js';
import { DataLifecycleError, QueryError } from '../../../errors/index.js';
import type { BoundPolicy, TargetInspection } from '../../../lifecycle/lifecycle-part.js';
import { closestNames } from '../../../config/closest-name.js';
import { mariadbConditionProblem } from './check-mariadb-condition.js';
import { isTimeColumn, keyExpression, quoteIdentifier, recordExpression, type MariadbColumn } from './mariadb-column-codec.js';
import { utcDatetime, withLifecycleSession } from './with-lifecycle-session.js';

/** A table as the MariaDB lifecycle driver uses it: names, key and record expressions ready for statements. */
export interface MariadbTarget extends TargetInspection {
  /** `schema`.`table`, quoted. */
  readonly relation: string;
  readonly keyColumns: readonly MariadbColumn[];
  /** Every stored (not generated) column, in table order: what a record holds. */
  readonly columns: readonly MariadbColumn[];
  /** The row as exact JSON text (see mariadb-column-codec). */
  readonly record: string;
  /** The key as a JSON array of texts. */
  readonly keyText: string;
  /** The policy's condition, parenthesised (`?` is the cutoff when there is an age); `1` when every row matches. */
  readonly condition: string;
  readonly conditionValues: readonly unknown[];
}

/**
 * Checks the policy's table on the server before anything runs: it exists in the schema (the adapter's database
 * unless the table is named `schema.table`), it has a primary key, the age column exists and holds dates or times,
 * and the condition is one expression the server accepts on this table (EXPLAIN, which runs nothing).
 */
export async function inspectMariadbTarget(adapter: SqlDatabaseAdapter, policy: BoundPolicy): Promise<MariadbTarget> {
  const name = policy.table;
  if (name === undefined) throw new DataLifecycleError('unknown-target', policy.name, `MariaDB/MySQL policies name a table (got ${policy.collection !== undefined ? 'a collection' : 'a key pattern'})`);
  const [schemaPart, tablePart] = splitTableName(name);
  return withLifecycleSession(adapter, undefined, async (session) => {
    const schema = schemaPart ?? String((await session.query<{ db: string | null }>('SELECT DATABASE() AS db'))[0]?.db ?? '');
    const tables = await session.query<{ name: string; type: string }>('SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [schema]);
    // Names compare as the server does with lower_case_table_names set (Windows, macOS) when no exact match exists.
    const table = tables.find((t) => t.name === tablePart) ?? tables.find((t) => t.name.toLowerCase() === tablePart.toLowerCase());
    if (!table || table.type !== 'BASE TABLE') {
      const near = closestNames(tablePart, tables.filter((t) => t.type === 'BASE TABLE').map((t) => t.name));
      const what = table ? `"${name}" is a ${table.type.toLowerCase()}, not a table` : `table "${name}" does not exist in ${adapter.id} (schema ${schema})`;
      throw new DataLifecycleError('unknown-target', policy.name, `${what}${near.length ? `; did you mean ${near.map((n) => `"${n}"`).join(' or ')}?` : ''}; check "table" (schema.table for another schema than the connection's database)`);
    }
    const relation = `${quoteIdentifier(schema)}.${quoteIdentifier(table.name)}`;
    const all = await session.query<{ name: string; dataType: string; columnType: string; extra: string }>(
      `SELECT COLUMN_NAME AS name, LOWER(DATA_TYPE) AS dataType, COLUMN_TYPE AS columnType, EXTRA AS extra
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [schema, table.name],
    );
    const columns = all.filter((c) => !/GENERATED|PERSISTENT|VIRTUAL/i.test(c.extra)).map(({ name: n, dataType, columnType }) => ({ name: n, dataType, columnType }));
    const keyNames = await session.query<{ name: string }>(
      `SELECT COLUMN_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`,
      [schema, table.name],
    );
    if (keyNames.length === 0) {
      throw new DataLifecycleError('no-key', policy.name, `table ${relation} has no primary key, which batches need to go in order and to delete exactly the rows read; add one`);
    }
    const keyColumns = keyNames.map((k) => all.find((c) => c.name === k.name)!).map(({ name: n, dataType, columnType }) => ({ name: n, dataType, columnType }));
    const parts: string[] = [];
    const values: unknown[] = [];
    if (policy.age) {
      const column = all.find((c) => c.name === policy.age!.column);
      const times = columns.filter(isTimeColumn).map((c) => c.name);
      if (!column) throw new DataLifecycleError('unknown-column', policy.name, `table ${relation} has no column "${policy.age.column}"; set "timestampColumn" to one of its date/time columns (${times.join(', ') || 'it has none'})`);
      if (!isTimeColumn(column)) throw new DataLifecycleError('unknown-column', policy.name, `column "${column.name}" of ${relation} is ${column.columnType}, not a DATE, DATETIME or TIMESTAMP; set "timestampColumn" to one of: ${times.join(', ') || 'none'}`);
      parts.push(`${quoteIdentifier(column.name)} < ?`);
      values.push(utcDatetime(policy.cutoff!));
    }
    if (policy.where !== undefined) {
      const problem = mariadbConditionProblem(policy.where);
      if (problem) throw new DataLifecycleError('bad-condition', policy.name, `the condition is not one SQL expression: ${problem}; fix "where"`);
      // On lines of their own, so that nothing the condition holds can reach the text after it.
      parts.push(`(\n${policy.where}\n)`);
    }
    const condition = parts.length ? `(${parts.join(' AND ')})` : '1';
    try {
      await session.query(`EXPLAIN SELECT 1 FROM ${relation} WHERE ${condition}`, values);
    } catch (error) {
      if (error instanceof QueryError) throw new DataLifecycleError('bad-condition', policy.name, `the condition does not work on ${relation}: ${error.message}; fix "where"`, { cause: error });
      throw error;
    }
    return {
      target: relation,
      relation,
      key: keyColumns.map((k) => k.name),
      keyColumns,
      columns,
      schema: columns.map((c) => ({ name: c.name, type: c.columnType })),
      record: recordExpression(columns),
      keyText: keyExpression(keyColumns),
      condition,
      conditionValues: values,
    };
  });
}

/** `schema.table` or `table`, backticks optional: [schema or undefined, table]. */
export function splitTableName(name: string): [string | undefined, string] {
  const parts = name.match(/`(?:[^`]|``)+`|[^.`]+/g)?.map((p) => (p.startsWith('`') ? p.slice(1, -1).replace(/``/g, '`') : p)) ?? [name];
  return parts.length >= 2 ? [parts[0], parts.slice(1).join('.')] : [undefined, parts[0] ?? name];
}
