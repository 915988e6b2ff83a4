import { PassThrough, type Readable } from 'node:stream';
import type { BackupWriter } from '../../../repository/repository-types.js';

/** The one stream of a backup (mariadb-backup's mbstream), stored as consecutive segments `<name>.000000`, ... */
export const STREAM_FILE = 'backup.mbstream';
/** Segment size: a few per worker in memory at most, small against a backup, large against the 1 MiB average chunk. */
const SEGMENT_BYTES = 16 * 1024 * 1024;

export function segmentName(index: number): string {
  return `${STREAM_FILE}.${String(index).padStart(6, '0')}`;
}

/** The stream's files of a manifest in order (one `backup.mbstream`, or its segments). */
export function streamFiles<T extends { path: string }>(files: readonly T[]): T[] {
  return files.filter((f) => f.path === STREAM_FILE || f.path.startsWith(`${STREAM_FILE}.`)).sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * Stores one long stream as segments scanned in parallel: the repository chunks, hashes, compresses and encrypts one
 * file in one lane, so a single mbstream would use one core whatever the worker count. At most `lanes` segments are
 * in flight (each buffers at most its own size); content-defined chunk boundaries restart at each segment, which
 * costs a chunk of deduplication per segment and nothing else.
 */
export async function storeStream(writer: BackupWriter, source: Readable, lanes: number, mtimeMs: number): Promise<{ segments: number; bytes: number }> {
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let index = 0;
  let current: PassThrough | undefined;
  let currentBytes = 0;
  let bytes = 0;
  const open = async () => {
    while (inFlight.size >= Math.max(1, lanes) && failure === undefined) await Promise.race(inFlight);
    if (failure) throw failure.error;
    const segment = new PassThrough({ highWaterMark: SEGMENT_BYTES });
    const stored: Promise<void> = writer.addFile(segmentName(index++), segment, { size: SEGMENT_BYTES, mtimeMs, mode: 0o600 }).then(
      () => { inFlight.delete(stored); },
      (error: unknown) => { inFlight.delete(stored); failure ??= { error }; segment.destroy(); },
    );
    inFlight.add(stored);
    current = segment;
    currentBytes = 0;
  };
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      let rest = chunk;
      while (rest.length > 0) {
        if (failure) throw failure.error;
        if (!current) await open();
        const take = Math.min(rest.length, SEGMENT_BYTES - currentBytes);
        current!.write(rest.subarray(0, take));
        currentBytes += take;
        bytes += take;
        rest = rest.subarray(take);
        if (currentBytes === SEGMENT_BYTES) {
          current!.end();
          current = undefined;
        }
      }
    }
    if (!current && index === 0) await open();
    current?.end();
    current = undefined;
  } finally {
    current?.destroy();
    await Promise.all(inFlight);
  }
  if (failure) throw failure.error;
  return { segments: index, bytes };
}
