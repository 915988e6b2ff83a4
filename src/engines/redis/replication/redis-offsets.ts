import { UsageError } from '../../../errors/index.js';

/**
 * Redis positions are replication offsets (bytes of the replication stream), written as decimal strings. PSYNC2 keeps
 * them continuous across a promotion (the new master goes on from its own offset), so offsets of different nodes of
 * one set compare directly. BigInt because an offset is a 64-bit counter.
 */
export function compareOffsets(a: string, b: string): number {
  const x = offset(a, 'a');
  const y = offset(b, 'b');
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Bytes from `from` to `to`; 0 when `to` is not ahead. */
export function offsetDistance(from: string, to: string): number {
  const d = offset(to, 'to') - offset(from, 'from');
  return d > 0n ? Number(d) : 0;
}

export function offset(text: string, field: string): bigint {
  if (typeof text !== 'string' || !/^\d+$/.test(text)) {
    throw new UsageError(field, `${JSON.stringify(text)} is not a Redis replication offset; give the decimal master_repl_offset, e.g. "123456"`);
  }
  return BigInt(text);
}
