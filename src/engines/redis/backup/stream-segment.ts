import { RedisBackupError } from './redis-backup-error.js';
import type { StreamBatch } from './replication-link.js';

/**
 * A segment of the captured replication stream, stored in the repository's log area (putWal: encrypted, hashed,
 * first writer wins). Its name says where it lies without reading it:
 * `00000000<first arrival, ms, 16 hex>.<replication id>.<start offset, 16 hex>.<end offset, 16 hex>`; the leading
 * zeros make the retention policy's log ordering (walOrder) sort segments by time.
 */
export interface SegmentName {
  readonly name: string;
  /** Local time (ms) the first batch arrived; for an empty segment, when it was written. */
  readonly firstAt: number;
  readonly replid: string;
  readonly start: number;
  readonly end: number;
}

export interface SegmentHeader {
  readonly replid: string;
  readonly start: number;
  readonly end: number;
  /** Until when (ms) the capture had seen everything up to `end`: the segment's flush time. */
  readonly coveredUntil: number;
  readonly batches: number;
}

const MAGIC = Buffer.from('DKRS1\n');
const NAME = /^00000000([0-9A-F]{16})\.([0-9a-f]{40})\.([0-9A-F]{16})\.([0-9A-F]{16})$/;
const hex16 = (n: number) => n.toString(16).toUpperCase().padStart(16, '0');

export function segmentName(firstAt: number, replid: string, start: number, end: number): string {
  return `00000000${hex16(firstAt)}.${replid}.${hex16(start)}.${hex16(end)}`;
}

/** The segment a log name describes, or undefined for a name that is no stream segment. */
export function parseSegmentName(name: string): SegmentName | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  return { name, firstAt: parseInt(m[1]!, 16), replid: m[2]!, start: parseInt(m[3]!, 16), end: parseInt(m[4]!, 16) };
}

/** Header line, then per batch: start offset (u64), arrival time in ms (u64), length (u32), the RESP bytes. */
export function encodeSegment(header: SegmentHeader, batches: readonly StreamBatch[]): Buffer {
  const parts: Buffer[] = [MAGIC, Buffer.from(`${JSON.stringify(header)}\n`)];
  for (const batch of batches) {
    const head = Buffer.alloc(20);
    head.writeBigUInt64BE(BigInt(batch.start), 0);
    head.writeBigUInt64BE(BigInt(batch.at), 8);
    head.writeUInt32BE(batch.bytes.length, 16);
    parts.push(head, batch.bytes);
  }
  return Buffer.concat(parts);
}

export function decodeSegment(name: string, content: Buffer): { header: SegmentHeader; batches: StreamBatch[] } {
  const bad = (what: string) => new RedisBackupError('stream-gap', `stream segment ${name} is damaged (${what}); restores past its start are impossible`);
  if (!content.subarray(0, MAGIC.length).equals(MAGIC)) throw bad('no segment header');
  const newline = content.indexOf(0x0a, MAGIC.length);
  if (newline < 0) throw bad('header line not terminated');
  const header = JSON.parse(content.toString('utf8', MAGIC.length, newline)) as SegmentHeader;
  const batches: StreamBatch[] = [];
  let at = newline + 1;
  let expected = header.start;
  while (at < content.length) {
    if (at + 20 > content.length) throw bad('truncated batch header');
    const start = Number(content.readBigUInt64BE(at));
    const time = Number(content.readBigUInt64BE(at + 8));
    const length = content.readUInt32BE(at + 16);
    if (start !== expected || at + 20 + length > content.length) throw bad(`batch at offset ${start} out of sequence`);
    batches.push({ start, end: start + length, at: time, bytes: content.subarray(at + 20, at + 20 + length) });
    expected = start + length;
    at += 20 + length;
  }
  if (expected !== header.end) throw bad(`batches end at offset ${expected}, header says ${header.end}`);
  return { header, batches };
}
