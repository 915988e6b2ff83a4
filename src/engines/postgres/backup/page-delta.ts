import { Readable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import type { ManifestFileEntry, Repository } from '../../../repository/repository-types.js';
import { ByteReader } from './byte-reader.js';

/**
 * Page-level incremental storage of relation files, from PostgreSQL's own page LSNs (as pg_probackup's DELTA mode):
 * every page of a heap or index main fork starts with pd_lsn, the WAL position of its last change. A page whose LSN
 * is older than the parent backup's start (its checkpoint's redo point) has not changed since the parent copied it:
 * that checkpoint flushed every change made before it. Only the other pages are stored: new or zeroed pages, pages past
 * the parent's end, pages that do not parse, and pages changed since. Torn reads are harmless as for any base backup:
 * a page being written during the copy is rewritten by its full-page image when the WAL is replayed.
 *
 * Not used for the free space map (not WAL-logged), the visibility map (cleared without an LSN change) or non-relation
 * files; those are stored whole.
 */

/** The main fork of a relation (or a 1 GiB segment of it) in a database, shared or tablespace directory. */
const RELATION_MAIN_FORK = /^(?:base\/\d+|global|pg_tblspc\/\d+\/[^/]+\/\d+)\/\d+(?:\.\d+)?$/;

export function isRelationMainFork(path: string): boolean {
  return RELATION_MAIN_FORK.test(path);
}

/** What a manifest records (in metadata.pageDeltas) for a file stored as changed pages over its parent's version. */
export interface PageDeltaRecord {
  /** The real file: its size, mtime and mode (the manifest entry describes the stored delta instead). */
  readonly size: number;
  readonly mtimeMs: number;
  readonly mode: number;
  readonly blockSize: number;
  readonly pagesStored: number;
  /** The parent's version of the file: a whole file, or itself a delta over its own parent. */
  readonly base: ManifestFileEntry;
  readonly baseDelta?: PageDeltaRecord;
}

export interface PageDeltaInput {
  /** An open handle on the current file (read from its start to its end). */
  handle: FileHandle;
  blockSize: number;
  /** Size of the parent's version: pages at or past its last whole page are always stored. */
  baseSize: number;
  /** The parent backup's start LSN (redo point). */
  thresholdLsn: bigint;
}

/**
 * The delta as a stream of records, `u32 page number (big-endian) | page bytes`, in page order; the last page may be
 * short when the file's size is not a multiple of the block size. `result()` gives the real size and the count of
 * stored pages once the stream has ended.
 */
export function encodePageDelta(input: PageDeltaInput): { stream: Readable; result: () => { size: number; pagesStored: number } } {
  const { handle, blockSize } = input;
  const baseWholePages = Math.floor(input.baseSize / blockSize);
  const thresholdHigh = Number(input.thresholdLsn >> 32n);
  const thresholdLow = Number(input.thresholdLsn & 0xffffffffn);
  const readSize = blockSize * 128;
  let size = 0;
  let pagesStored = 0;
  let done = false;
  async function* generate(): AsyncGenerator<Buffer> {
    let position = 0;
    let pageNo = 0;
    for (;;) {
      const buffer = Buffer.allocUnsafe(readSize);
      let filled = 0;
      // Fill whole pages so that a short read never splits one.
      while (filled < readSize) {
        const { bytesRead } = await handle.read(buffer, filled, readSize - filled, position + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled === 0) break;
      position += filled;
      const out: Buffer[] = [];
      for (let offset = 0; offset < filled; offset += blockSize, pageNo += 1) {
        const page = buffer.subarray(offset, Math.min(offset + blockSize, filled));
        if (!pageUnchanged(page, pageNo)) {
          const header = Buffer.allocUnsafe(4);
          header.writeUInt32BE(pageNo, 0);
          out.push(header, Buffer.from(page));
          pagesStored += 1;
        }
      }
      if (out.length > 0) yield Buffer.concat(out);
      if (filled < readSize) break;
    }
    size = position;
    done = true;
  }
  const pageUnchanged = (page: Buffer, pageNo: number): boolean => {
    if (page.length < blockSize || pageNo >= baseWholePages) return false;
    const upper = page.readUInt16LE(14);
    const lower = page.readUInt16LE(12);
    // PageIsNew (pd_upper == 0), or a header that does not parse: store it.
    if (upper === 0 || upper > blockSize || lower > upper || lower < 24) return false;
    // pd_lsn is {xlogid, xrecoff} in the server's byte order (little-endian on every platform Debian ships 15 for).
    const high = page.readUInt32LE(0);
    const low = page.readUInt32LE(4);
    return high < thresholdHigh || (high === thresholdHigh && low < thresholdLow);
  };
  return {
    stream: Readable.from(generate(), { objectMode: false }),
    result: () => {
      if (!done) throw new Error('encodePageDelta: result() before the stream ended');
      return { size, pagesStored };
    },
  };
}

/**
 * The file a delta describes, streamed: the base version's pages (itself rebuilt when it is a delta) with the stored
 * pages laid over them, cut or extended to the recorded size. Reads each stored stream once, in order.
 */
export function readPageDelta(repository: Repository, entry: ManifestFileEntry, record: PageDeltaRecord): Readable {
  return Readable.from(rebuild(repository, entry, record), { objectMode: false });
}

async function* rebuild(repository: Repository, deltaEntry: ManifestFileEntry, record: PageDeltaRecord): AsyncGenerator<Buffer> {
  const { blockSize, size } = record;
  const base = new ByteReader(record.baseDelta ? readPageDelta(repository, record.base, record.baseDelta) : repository.readFile(record.base));
  const delta = new ByteReader(repository.readFile(deltaEntry));
  const pages = Math.ceil(size / blockSize);
  const nextStored = async (): Promise<number> => {
    const header = await delta.read(4);
    if (header.length === 0) return Number.POSITIVE_INFINITY;
    if (header.length < 4) throw new Error(`page delta of ${deltaEntry.path} is truncated`);
    return header.readUInt32BE(0);
  };
  let stored = await nextStored();
  let batch: Buffer[] = [];
  let batchBytes = 0;
  try {
    let pageNo = 0;
    while (pageNo < pages) {
      let piece: Buffer;
      if (pageNo === stored) {
        const length = Math.min(blockSize, size - pageNo * blockSize);
        piece = await delta.read(length);
        if (piece.length < length) throw new Error(`page delta of ${deltaEntry.path} is truncated at page ${pageNo}`);
        // The base's own version of this page (if it has one) is replaced.
        await base.read(blockSize);
        stored = await nextStored();
        pageNo += 1;
      } else {
        // A run of unchanged pages comes from the base in one piece.
        const runPages = Math.min((stored === Number.POSITIVE_INFINITY ? pages : stored) - pageNo, 128);
        const runBytes = Math.min(runPages * blockSize, size - pageNo * blockSize);
        piece = await base.read(runPages * blockSize);
        if (piece.length < runBytes) throw new Error(`the base of ${deltaEntry.path} ends before page ${pageNo + Math.floor(piece.length / blockSize)}, which the delta does not hold`);
        piece = piece.subarray(0, runBytes);
        pageNo += runPages;
      }
      batch.push(Buffer.from(piece));
      batchBytes += piece.length;
      if (batchBytes >= 1 << 20) {
        yield Buffer.concat(batch);
        batch = [];
        batchBytes = 0;
      }
    }
    if (stored !== Number.POSITIVE_INFINITY) throw new Error(`page delta of ${deltaEntry.path} holds page ${stored} past the file's ${pages} pages`);
    if (batchBytes > 0) yield Buffer.concat(batch);
    // Read the streams to their ends: the repository checks each whole-file hash there.
    while ((await base.readSome(1 << 20)).length > 0);
    while ((await delta.readSome(1 << 20)).length > 0);
  } finally {
    await base.close();
    await delta.close();
  }
}
