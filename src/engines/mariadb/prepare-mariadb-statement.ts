import { UsageError } from '../../errors/index.js';

const QUESTION = 0x3f;
const SINGLE = 0x27;
const DOUBLE = 0x22;
const BACKTICK = 0x60;
const BACKSLASH = 0x5c;
const SLASH = 0x2f;
const STAR = 0x2a;
const HASH = 0x23;
const MINUS = 0x2d;

/**
 * Counts the `?` placeholders the `mariadb` driver will bind: those outside string literals ('..', ".." with
 * backslash escapes), quoted identifiers (`..`) and comments (/* *\/, # and "-- "). It follows the driver's own
 * scanner (lib/misc/parse.js splitQuery) so that both agree on every statement.
 */
export function countMariadbPlaceholders(sql: string): number {
  let count = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === QUESTION) {
      count += 1;
      i += 1;
    } else if (c === SINGLE || c === DOUBLE) {
      i += 1;
      while (i < n) {
        const d = sql.charCodeAt(i);
        if (d === BACKSLASH) i += 2;
        else if (d === c) break;
        else i += 1;
      }
      i += 1;
    } else if (c === BACKTICK) {
      const end = sql.indexOf('`', i + 1);
      i = end < 0 ? n : end + 1;
    } else if (c === SLASH && sql.charCodeAt(i + 1) === STAR) {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === HASH || (c === MINUS && sql.charCodeAt(i + 1) === MINUS && !(sql.charCodeAt(i + 2) > 0x20))) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else {
      i += 1;
    }
  }
  return count;
}

/**
 * MariaDB takes `?` natively, so the text passes through unchanged; only the parameter count is checked, because the
 * driver silently ignores extra values (a likely bug in the caller) and its own error for missing ones does not say
 * how many were expected.
 */
export function prepareMariadbStatement(sql: string, params: readonly unknown[] | undefined): { text: string; params: readonly unknown[] | undefined } {
  const given = params?.length ?? 0;
  // Fast path: no question mark anywhere and no values.
  if (given === 0 && sql.indexOf('?') < 0) return { text: sql, params };
  const expected = countMariadbPlaceholders(sql);
  if (expected !== given) {
    throw new UsageError('params', `the statement has ${expected} ? placeholder(s) but ${given} parameter(s) were given; give one value per ?`);
  }
  return { text: sql, params };
}
