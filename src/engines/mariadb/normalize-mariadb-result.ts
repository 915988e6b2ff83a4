import type { Row } from '../../adapters/database-adapter.js';
import type { StatementResult } from '../sql/sql-session.js';

/** A statement result plus what MariaDB reports for statements that return no rows. */
export interface MariadbStatementResult extends StatementResult {
  /** AUTO_INCREMENT value of the first inserted row (0 when none); a number, or a decimal string above 2^53. */
  insertId?: number | string;
  warningStatus?: number;
}

/** The column metadata the driver attaches (non-enumerable `meta`) to every result set. */
interface ColumnMeta {
  readonly columnType: number;
  name(): string;
}

/** The driver's OK packet for INSERT/UPDATE/DELETE/DDL. */
interface OkPacket {
  affectedRows: number;
  insertId: number | bigint;
  warningStatus: number;
}

const BIGINT_COLUMN = 8; // MYSQL_TYPE_LONGLONG: BIGINT, COUNT(*), the XA RECOVER lengths
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/**
 * BIGINT values as numbers when they fit in a double exactly (|v| <= 2^53 - 1), otherwise as their exact decimal
 * string: never a silent loss of precision, and always JSON-serialisable (a BigInt is not).
 */
export function safeInteger(value: bigint): number | string {
  return value <= MAX_SAFE && value >= MIN_SAFE ? Number(value) : value.toString();
}

/**
 * Turns what `mariadb`'s `query` resolves to into the shape every SQL adapter returns: plain row objects in a plain
 * array (the driver's `meta` is not carried over), BIGINT columns converted by `safeInteger`, and for statements
 * without a result set the affected row count and insert id.
 *
 * The driver is left to return BIGINT as BigInt (its `bigIntAsNumber` would round values above 2^53 silently) and
 * DECIMAL as an exact string, as node-postgres returns numeric. Only columns the metadata marks as BIGINT are
 * visited, so result sets without one cost nothing per row.
 */
export function normalizeMariadbResult(result: unknown): MariadbStatementResult {
  if (!Array.isArray(result)) {
    const ok = result as OkPacket;
    return {
      rows: [],
      rowCount: ok.affectedRows,
      insertId: typeof ok.insertId === 'bigint' ? safeInteger(ok.insertId) : ok.insertId,
      warningStatus: ok.warningStatus,
    };
  }
  // CALL returns several result sets followed by an OK packet: the first result set is the answer.
  const set = (result.length > 0 && Array.isArray(result[0]) ? result[0] : result) as Row[] & { meta?: readonly ColumnMeta[] };
  const rows = set.slice();
  const meta = set.meta;
  if (meta !== undefined && rows.length > 0) {
    let bigColumns: string[] | undefined;
    for (const column of meta) {
      if (column.columnType === BIGINT_COLUMN) (bigColumns ??= []).push(column.name());
    }
    if (bigColumns !== undefined) {
      for (const row of rows) {
        for (const name of bigColumns) {
          const value = row[name];
          if (typeof value === 'bigint') row[name] = safeInteger(value);
        }
      }
    }
  }
  return { rows, rowCount: rows.length };
}
