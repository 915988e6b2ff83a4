/**
 * PostgreSQL WAL positions and segment file names, computed the way the server does (xlog_internal.h): a segment
 * file is named TTTTTTTT (timeline) + XXXXXXXX (log id) + YYYYYYYY (segment within the log id), all hex.
 */

/** Parses an LSN written as `X/Y` (hex) into a bigint. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!match) throw new RangeError(`"${text}" is not an LSN; expected two hex numbers such as 0/16B3748`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The segment number holding the byte at `lsn` (XLByteToSeg). */
export function segmentOf(lsn: bigint, segmentSize: number): bigint {
  return lsn / BigInt(segmentSize);
}

/** The segment holding the byte just before `lsn` (XLByteToPrevSeg): the last segment a record ending at `lsn` needs. */
export function segmentBefore(lsn: bigint, segmentSize: number): bigint {
  return (lsn - 1n) / BigInt(segmentSize);
}

export function segmentName(timeline: number, segment: bigint, segmentSize: number): string {
  const perLogId = 0x100000000n / BigInt(segmentSize);
  return hex8(BigInt(timeline)) + hex8(segment / perLogId) + hex8(segment % perLogId);
}

/** Timeline and segment number of a segment file name, or undefined when `name` is not a segment (history, .backup). */
export function parseSegmentName(name: string, segmentSize: number): { timeline: number; segment: bigint } | undefined {
  const match = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/.exec(name);
  if (!match) return undefined;
  const perLogId = 0x100000000n / BigInt(segmentSize);
  return { timeline: Number.parseInt(match[1]!, 16), segment: BigInt(`0x${match[2]}`) * perLogId + BigInt(`0x${match[3]}`) };
}

/** Every segment name from `from` to `to` inclusive, on one timeline. */
export function segmentRange(timeline: number, from: bigint, to: bigint, segmentSize: number): string[] {
  const names: string[] = [];
  for (let segment = from; segment <= to; segment += 1n) names.push(segmentName(timeline, segment, segmentSize));
  return names;
}

/** The WAL segments a base backup needs to become consistent: from its start LSN to its stop LSN. */
export function segmentsForBackup(timeline: number, startLsn: bigint, stopLsn: bigint, segmentSize: number): string[] {
  return segmentRange(timeline, segmentOf(startLsn, segmentSize), segmentBefore(stopLsn, segmentSize), segmentSize);
}

/** True for names PostgreSQL archives: segments, `.history` and `.backup` files, `.partial` segments. */
export function isWalFileName(name: string): boolean {
  return /^[0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?$/.test(name) || /^[0-9A-F]{8}\.history$/.test(name);
}

function hex8(value: bigint): string {
  return value.toString(16).toUpperCase().padStart(8, '0');
}

/**
 * The `count` segment names after segment file `name` on its own timeline, in the order recovery reads them, for
 * `segmentSize`-byte segments (a power of two from 1 MiB to 1 GiB, as read from a segment's long page header): the
 * low 8 digits wrap into the next log id after 0x100000000 / segmentSize segments. Undefined when `name` is not a
 * segment of that size (a history or .partial file, or a segment number that size never produces).
 */
export function followingSegments(name: string, segmentSize: number, count: number): string[] | undefined {
  if (!Number.isInteger(segmentSize) || segmentSize < 1 << 20 || segmentSize > 1 << 30 || (segmentSize & (segmentSize - 1)) !== 0) return undefined;
  const parsed = parseSegmentName(name, segmentSize);
  if (!parsed || segmentName(parsed.timeline, parsed.segment, segmentSize) !== name) return undefined;
  // The last segment of a 64-bit WAL position space has no successor; PostgreSQL never gets near it.
  const last = (1n << 64n) / BigInt(segmentSize) - 1n;
  const names: string[] = [];
  for (let segment = parsed.segment + 1n; names.length < count && segment <= last; segment += 1n) names.push(segmentName(parsed.timeline, segment, segmentSize));
  return names;
}
