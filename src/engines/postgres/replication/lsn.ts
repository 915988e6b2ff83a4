import { ReplicationError } from '../../../errors/replication-error.js';
import { formatLsn, parseLsn } from '../backup/wal-position.js';

/** Parses a PostgreSQL LSN (`X/Y`, hex) exactly; malformed input is a ReplicationError naming `field`. */
export function lsnValue(text: string, field = 'position'): bigint {
  if (typeof text !== 'string') throw new ReplicationError('refused', `${field}: expected an LSN string such as 0/16B3748, got ${typeof text}`);
  try {
    return parseLsn(text);
  } catch {
    throw new ReplicationError('refused', `${field}: "${text.slice(0, 40)}" is not a PostgreSQL LSN; expected two hex numbers separated by a slash, such as 0/16B3748`);
  }
}

/** Negative when a < b, 0 when equal, positive when a > b. */
export function compareLsn(a: string, b: string): number {
  const x = lsnValue(a, 'a');
  const y = lsnValue(b, 'b');
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Bytes from `from` to `to`; 0 when `to` is not ahead. Exact up to 2^53 bytes (8 PiB of WAL), clamped beyond. */
export function lsnDistance(from: string, to: string): number {
  const d = lsnValue(to, 'to') - lsnValue(from, 'from');
  if (d <= 0n) return 0;
  return d > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(d);
}

export { formatLsn };
