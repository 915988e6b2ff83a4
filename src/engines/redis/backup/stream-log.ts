import type { Repository } from '../../../repository/repository-types.js';
import { RedisBackupError } from './redis-backup-error.js';
import { decodeSegment, parseSegmentName, type SegmentHeader, type SegmentName } from './stream-segment.js';

/** A run of segments that continues a position without a hole, and where it stops. */
export interface StreamRun {
  readonly replid: string;
  readonly from: number;
  readonly segments: readonly SegmentName[];
  /** The offset after the run's last byte. */
  readonly end: number;
  /** Set when the repository holds segments or a backup of this history past `end`: a hole at `end` (a capture was
   * lost, and the master's backlog no longer held what it missed). */
  readonly gapAt: number | undefined;
}

/** The captured stream segments of one repository, by name (no segment is read to list them). */
export class StreamLog {
  readonly segments: readonly SegmentName[];

  private constructor(segments: readonly SegmentName[]) {
    this.segments = segments;
  }

  static async load(repository: Repository): Promise<StreamLog> {
    const names = await repository.listWal();
    return new StreamLog(names.map(parseSegmentName).filter((s): s is SegmentName => s !== undefined));
  }

  /**
   * The segments that carry the stream on from (replid, offset), each reaching past the last: overlapping
   * segments (two captures, a resumed one) are fine, a missing byte ends the run.
   */
  run(replid: string, offset: number): StreamRun {
    const history = this.segments.filter((s) => s.replid === replid);
    const same = history.filter((s) => s.end > s.start);
    const segments: SegmentName[] = [];
    let position = offset;
    for (;;) {
      let best: SegmentName | undefined;
      for (const s of same) if (s.start <= position && s.end > position && (best === undefined || s.end > best.end)) best = s;
      if (best === undefined) break;
      segments.push(best);
      position = best.end;
    }
    // Later segments of this history, or (when a capture ran on from here) a later backup's empty marker: the bytes
    // in between were never stored. Snapshots taken with no capture at all have no stream, hence no hole.
    const later = segments.length > 0 ? history : same;
    const gapAt = later.some((s) => s.start > position) ? position : undefined;
    return { replid, from: offset, segments, end: position, gapAt };
  }
}

/** Reads (and authenticates: putWal stored its SHA-256) one segment. */
export async function readSegment(repository: Repository, segment: SegmentName): Promise<ReturnType<typeof decodeSegment>> {
  const content = await repository.getWal(segment.name);
  if (content === undefined) {
    throw new RedisBackupError('stream-gap', `stream segment ${segment.name} vanished from the repository while it was read`);
  }
  return decodeSegment(segment.name, content);
}

/** Until when (ms) a run's stream is known: its last segment's flush time, or `fallback` for an empty run. */
export async function coveredUntil(repository: Repository, run: StreamRun, fallback: number): Promise<{ time: number; header: SegmentHeader | undefined }> {
  const last = run.segments.at(-1);
  if (last === undefined) return { time: fallback, header: undefined };
  const { header } = await readSegment(repository, last);
  return { time: Math.max(header.coveredUntil, fallback), header };
}
