import type { SqlDatabaseAdapter } from '../../../adapters/database-adapter.js';
import { DataLifecycleError, QueryError } from '../../../errors/index.js';
import { decodeColumn, quoteIdentifier, type MariadbColumn } from './mariadb-column-codec.js';
import { splitTableName } from './inspect-mariadb-target.js';
import { withLifecycleSession } from './with-lifecycle-session.js';

const ER_DUP_ENTRY = 1062;
/** Records per INSERT: one JSON parameter each, well under max_allowed_packet for ordinary rows. */
const CHUNK = 500;

/**
 * Puts archived records (JSON objects of exact texts, see mariadb-column-codec) into `into`, in one transaction on a
 * UTC session: JSON_TABLE reads each record's texts and the destination's own column types take them back (bytes from
 * hex, BIT from its number). Columns the destination has and the records lack get their defaults; a record column the
 * destination lacks refuses the restore, as does a key that exists already (nothing is written then).
 */
export async function insertMariadbRecords(adapter: SqlDatabaseAdapter, into: string, records: readonly string[]): Promise<number> {
  if (records.length === 0) return 0;
  const [schemaPart, table] = splitTableName(into);
  return withLifecycleSession(adapter, undefined, async (session) => {
    const schema = schemaPart ?? String((await session.query<{ db: string | null }>('SELECT DATABASE() AS db'))[0]?.db ?? '');
    const all = await session.query<{ name: string; dataType: string; columnType: string; extra: string }>(
      `SELECT COLUMN_NAME AS name, LOWER(DATA_TYPE) AS dataType, COLUMN_TYPE AS columnType, EXTRA AS extra
         FROM information_schema.COLUMNS c JOIN information_schema.TABLES t USING (TABLE_SCHEMA, TABLE_NAME)
        WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? AND t.TABLE_TYPE = 'BASE TABLE' ORDER BY ORDINAL_POSITION`,
      [schema, table],
    );
    if (all.length === 0) throw new DataLifecycleError('unknown-target', undefined, `table "${into}" does not exist in ${adapter.id} (schema ${schema}); create it (with the archived table's columns) or restore into the original table`);
    const stored = all.filter((c) => !/GENERATED|PERSISTENT|VIRTUAL/i.test(c.extra));
    const names = Object.keys(JSON.parse(records[0]!) as Record<string, unknown>);
    const missing = names.filter((n) => !stored.some((c) => c.name === n));
    if (missing.length) throw new DataLifecycleError('unknown-column', undefined, `table "${into}" has no (stored) column ${missing.map((m) => `"${m}"`).join(', ')} that the archived rows have; add it, or restore into a table with the archived table's columns`);
    const columns: MariadbColumn[] = stored.filter((c) => names.includes(c.name));
    const relation = `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
    const source = columns.map((c, i) => `c${i} LONGTEXT CHARACTER SET utf8mb4 PATH ${jsonPath(c.name)}`).join(', ');
    const statement = `INSERT INTO ${relation} (${columns.map((c) => quoteIdentifier(c.name)).join(', ')})
      SELECT ${columns.map((c, i) => decodeColumn(c, `j.c${i}`)).join(', ')} FROM JSON_TABLE(?, '$[*]' COLUMNS (${source})) AS j`;
    await session.execute('START TRANSACTION');
    let inserted = 0;
    try {
      for (let i = 0; i < records.length; i += CHUNK) {
        inserted += await session.execute(statement, [`[${records.slice(i, i + CHUNK).join(',')}]`]);
      }
      await session.execute('COMMIT');
    } catch (error) {
      await session.execute('ROLLBACK').catch(() => undefined);
      if (error instanceof QueryError && (error.cause as { errno?: number } | undefined)?.errno === ER_DUP_ENTRY) {
        throw new DataLifecycleError('restore-conflict', undefined, `${into} already holds a row with a key of the archive (${error.message}); nothing was restored. Restore into another table with --into, or remove those rows first`, { cause: error });
      }
      throw error;
    }
    return inserted;
  });
}

/** A JSON_TABLE path literal for a member name (quoted, so that names with dots or spaces work). */
function jsonPath(name: string): string {
  const path = `$.${JSON.stringify(name)}`;
  return `'${path.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}
