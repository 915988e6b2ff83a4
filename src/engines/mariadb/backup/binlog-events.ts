/**
 * The few facts datakeep reads from binlog event headers (MariaDB's binlog format v4): every event starts with
 * timestamp (4 bytes, seconds), type (1), server id (4), event size (4), end position (4), flags (2), little-endian.
 * A file starts with the 4-byte magic \xfebin.
 */
export const BINLOG_MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
const HEADER = 19;
const QUERY_EVENT = 2;
const XID_EVENT = 16;

export interface EventSpan {
  readonly offset: number;
  readonly size: number;
  readonly type: number;
  readonly timestamp: number;
}

/**
 * The events of `bytes`, which hold file bytes from `fileOffset` (0: the file's start, magic included), up to the
 * last whole event. Returns the events and where the first incomplete one starts (relative to `bytes`).
 */
export function walkEvents(bytes: Buffer, fileOffset: number): { events: EventSpan[]; consumed: number } {
  let at = 0;
  if (fileOffset === 0) {
    if (bytes.length < 4) return { events: [], consumed: 0 };
    if (!bytes.subarray(0, 4).equals(BINLOG_MAGIC)) throw new Error('not a binlog file (no \\xfebin magic at its start)');
    at = 4;
  }
  const events: EventSpan[] = [];
  while (at + HEADER <= bytes.length) {
    const size = bytes.readUInt32LE(at + 9);
    if (size < HEADER) throw new Error(`binlog event at byte ${fileOffset + at} has an impossible size ${size}`);
    if (at + size > bytes.length) break;
    events.push({ offset: fileOffset + at, size, type: bytes.readUInt8(at + 4), timestamp: bytes.readUInt32LE(at) });
    at += size;
  }
  return { events, consumed: at };
}

/** The time (seconds since the epoch) of the last transaction end (XID or a query event: DDL, COMMIT) in the events. */
export function lastTransactionEnd(events: readonly EventSpan[]): number | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i]!;
    if ((event.type === XID_EVENT || event.type === QUERY_EVENT) && event.timestamp > 0) return event.timestamp;
  }
  return undefined;
}
