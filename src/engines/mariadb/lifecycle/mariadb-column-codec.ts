/** A column as the MariaDB lifecycle driver reads and writes it. */
export interface MariadbColumn {
  readonly name: string;
  /** information_schema.COLUMNS.DATA_TYPE, lower case (`bigint`, `varbinary`, `datetime`...). */
  readonly dataType: string;
  /** information_schema.COLUMNS.COLUMN_TYPE (`bigint(20) unsigned`, `decimal(40,15)`...). */
  readonly columnType: string;
}

const BYTES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection']);
const INTEGERS = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'year']);
const TIMES = new Set(['date', 'datetime', 'timestamp']);

/** True for the column types a policy's age can be measured on. */
export function isTimeColumn(column: MariadbColumn): boolean {
  return TIMES.has(column.dataType);
}

/** `name` as a quoted identifier. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/**
 * `text` as a string literal whatever the sql_mode: plain quotes for ordinary names, otherwise a hex literal with a
 * character set introducer, because NO_BACKSLASH_ESCAPES changes what a backslash in quotes means.
 */
export function sqlText(text: string): string {
  return /^[\w $.:-]*$/.test(text) ? `'${text}'` : `_utf8mb4 X'${Buffer.from(text, 'utf8').toString('hex')}'`;
}

/**
 * The column's value as exact text in a record: bytes as hex, FLOAT widened to DOUBLE (the server prints a FLOAT with
 * 6 digits, a DOUBLE with as many as it takes to read back the same value), BIT as its number, and every other type
 * as the server's own text (DECIMAL and BIGINT digit for digit, DATETIME(6) with its microseconds, JSON as written).
 * NULL stays NULL (JSON null).
 */
export function encodeColumn(column: MariadbColumn): string {
  const q = quoteIdentifier(column.name);
  if (BYTES.has(column.dataType)) return `HEX(${q})`;
  if (column.dataType === 'bit') return `CAST(${q} + 0 AS CHAR)`;
  if (column.dataType === 'float') return `CAST(CAST(${q} AS DOUBLE) AS CHAR)`;
  return `CAST(${q} AS CHAR)`;
}

/**
 * The SQL that turns a record's text (`value`, an expression) back into the column's type. Text converts implicitly
 * on INSERT exactly (the server parses DECIMAL and BIGINT text without going through a double), so only bytes and
 * BIT need a function.
 */
export function decodeColumn(column: MariadbColumn, value: string): string {
  if (BYTES.has(column.dataType)) return `UNHEX(${value})`;
  if (column.dataType === 'bit') return `CAST(${value} AS UNSIGNED)`;
  return value;
}

/**
 * A key value given as a parameter, typed as the column: compared with a string, an integer column would be compared
 * as a double, and 2^53 + 1 would then equal 2^53.
 */
export function keyParameter(column: MariadbColumn): string {
  if (BYTES.has(column.dataType)) return 'UNHEX(?)';
  if (column.dataType === 'bit') return 'CAST(? AS UNSIGNED)';
  if (INTEGERS.has(column.dataType)) return /unsigned/i.test(column.columnType) ? 'CAST(? AS UNSIGNED)' : 'CAST(? AS SIGNED)';
  if (column.dataType === 'decimal' || column.dataType === 'numeric') {
    const digits = /\((\d+)(?:,(\d+))?\)/.exec(column.columnType);
    return `CAST(? AS DECIMAL(${digits?.[1] ?? 65},${digits?.[2] ?? 0}))`;
  }
  if (column.dataType === 'float' || column.dataType === 'double') return 'CAST(? AS DOUBLE)';
  if (column.dataType === 'date') return 'CAST(? AS DATE)';
  if (column.dataType === 'datetime' || column.dataType === 'timestamp') return 'CAST(? AS DATETIME(6))';
  if (column.dataType === 'time') return 'CAST(? AS TIME(6))';
  return '?';
}

/** The whole row as one JSON object of exact texts, keyed by column name. */
export function recordExpression(columns: readonly MariadbColumn[]): string {
  return `CAST(JSON_OBJECT(${columns.map((c) => `${sqlText(c.name)}, ${encodeColumn(c)}`).join(', ')}) AS CHAR)`;
}

/** The key as a JSON array of exact texts (what the archive's manifest and the next batch's `after` hold). */
export function keyExpression(key: readonly MariadbColumn[]): string {
  return `CAST(JSON_ARRAY(${key.map(encodeColumn).join(', ')}) AS CHAR)`;
}
