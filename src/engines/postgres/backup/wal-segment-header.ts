import { PostgresBackupError } from './postgres-backup-error.js';
import { formatLsn, parseSegmentName, segmentName } from './wal-position.js';

/**
 * XLOG_PAGE_MAGIC (src/include/access/xlog_internal.h) by the major version that writes it. It changes whenever the
 * WAL format does, so a value outside this table means the file is not WAL or comes from a version not checked here.
 */
export const WAL_PAGE_MAGIC: ReadonlyMap<number, number> = new Map([
  [0xd106, 13],
  [0xd10d, 14],
  [0xd110, 15],
  [0xd113, 16],
  [0xd116, 17],
]);

const XLP_LONG_HEADER = 0x0002;
/** SizeOfXLogLongPHD: MAXALIGN(sizeof(XLogLongPageHeaderData)) on 64-bit servers. */
const LONG_HEADER_SIZE = 40;
const MIN_SEGMENT_SIZE = 1024 * 1024;
const MAX_SEGMENT_SIZE = 1024 * 1024 * 1024;

/** The XLogLongPageHeaderData at the start of a segment file, little-endian (x86-64, arm64). */
export interface WalLongPageHeader {
  readonly magic: number;
  readonly info: number;
  /** Timeline of the first record on the page: the segment's own, or an ancestor's for the first segment after a
   * timeline switch (PostgreSQL copies the parent's segment up to the switch point into the new file). */
  readonly pageTimeline: number;
  readonly pageAddress: bigint;
  readonly systemIdentifier: string;
  readonly segmentSize: number;
  readonly blockSize: number;
}

/** The header fields, or undefined when `content` is too short to hold them. Checks nothing. */
export function readWalLongPageHeader(content: Buffer): WalLongPageHeader | undefined {
  if (content.length < LONG_HEADER_SIZE) return undefined;
  return {
    magic: content.readUInt16LE(0),
    info: content.readUInt16LE(2),
    pageTimeline: content.readUInt32LE(4),
    pageAddress: content.readBigUInt64LE(8),
    // Offset 20 is xlp_rem_len, then 4 bytes of alignment padding before the 64-bit system identifier.
    systemIdentifier: content.readBigUInt64LE(24).toString(),
    segmentSize: content.readUInt32LE(32),
    blockSize: content.readUInt32LE(36),
  };
}

/**
 * Proves `content` is one whole WAL segment of the name it is archived under, from its first page header: a
 * truncated copy, a file renamed to another segment or timeline, or a recycled file not yet rewritten would otherwise
 * be archived, and recovery would stop there (or worse, replay the wrong WAL) long after the original is gone.
 * Throws PostgresBackupError 'wal-invalid'.
 */
export function checkWalSegmentFile(name: string, content: Buffer): { segmentSize: number; systemIdentifier: string; timeline: number; startLsn: bigint } {
  const refuse = (problem: string): PostgresBackupError =>
    new PostgresBackupError('wal-invalid', `refusing to archive ${name}: it ${problem}. Nothing was stored; PostgreSQL keeps the file and retries. Check that archive_command passes %p unchanged and that nothing else writes into pg_wal`, { items: [name] });
  if (!/^[0-9A-F]{24}$/.test(name)) throw refuse('is not a WAL segment name (24 upper-case hex digits)');
  const header = readWalLongPageHeader(content);
  if (!header) throw refuse(`is ${content.length} bytes, too short to hold a WAL segment's page header (${LONG_HEADER_SIZE} bytes): an empty or truncated copy`);
  if (!WAL_PAGE_MAGIC.has(header.magic)) {
    throw refuse(`does not start with a known WAL page magic (found 0x${hex(header.magic, 4)}; PostgreSQL 13 to 17 write ${[...WAL_PAGE_MAGIC.keys()].map((m) => `0x${hex(m, 4)}`).join(', ')}): not a WAL segment, corrupt, or from a PostgreSQL version datakeep does not know`);
  }
  if ((header.info & XLP_LONG_HEADER) === 0) throw refuse(`starts with a short page header, but a segment's first page always has the long one (xlp_info 0x${hex(header.info, 4)}): not the start of a segment`);
  const { segmentSize } = header;
  if (!isPowerOfTwoBetween(segmentSize, MIN_SEGMENT_SIZE, MAX_SEGMENT_SIZE)) throw refuse(`has a header whose segment size ${segmentSize} is not a power of two between 1 MiB and 1 GiB: corrupt`);
  if (!isPowerOfTwoBetween(header.blockSize, 1024, 64 * 1024)) throw refuse(`has a header whose WAL block size ${header.blockSize} is not a power of two between 1 kB and 64 kB: corrupt`);
  if (content.length !== segmentSize) {
    throw refuse(content.length < segmentSize
      ? `is ${content.length} bytes, but its header says a segment is ${segmentSize} bytes: a truncated or partial copy`
      : `is ${content.length} bytes, but its header says a segment is ${segmentSize} bytes: more than one segment, or a file with data appended`);
  }
  const parsed = parseSegmentName(name, segmentSize)!;
  // parseSegmentName accepts any low 8 digits; with segments over 16 MiB a log id holds fewer than 256 of them.
  if (segmentName(parsed.timeline, parsed.segment, segmentSize) !== name) throw refuse(`has a segment number that does not exist with ${segmentSize}-byte segments (its header's size)`);
  if (parsed.timeline === 0) throw refuse('names timeline 0, which PostgreSQL never uses');
  // The first segment after a timeline switch starts with the parent's pages, so an older timeline is normal here.
  if (header.pageTimeline === 0 || header.pageTimeline > parsed.timeline) {
    throw refuse(`is named for timeline ${parsed.timeline}, but its first page is on timeline ${header.pageTimeline}: a segment renamed to another timeline`);
  }
  const startLsn = parsed.segment * BigInt(segmentSize);
  if (header.pageAddress !== startLsn) {
    throw refuse(`is named for the segment starting at ${formatLsn(startLsn)}, but its header says it starts at ${formatLsn(header.pageAddress)}: a segment copied or renamed under another segment's name, or a recycled file PostgreSQL has not rewritten yet`);
  }
  return { segmentSize, systemIdentifier: header.systemIdentifier, timeline: parsed.timeline, startLsn };
}

function isPowerOfTwoBetween(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max && (value & (value - 1)) === 0;
}

function hex(value: number, width: number): string {
  return value.toString(16).toUpperCase().padStart(width, '0');
}
