import type { Repository } from '../../../repository/repository-types.js';
import { PostgresBackupError } from './postgres-backup-error.js';
import type { TimelineHistory } from './timeline-history.js';
import { segmentName, segmentOf } from './wal-position.js';

export interface ArchivedWalPath {
  /** Segment numbers from the start, with the timeline each is read from; all present (and authenticated when asked). */
  readonly segments: readonly { readonly segment: bigint; readonly timeline: number; readonly name: string; readonly snapshot?: boolean }[];
  /** The first segment the archive lacks after the last present one (where replay would end). */
  readonly firstMissing: string | undefined;
}

export interface WalkOptions {
  /** Decrypt and authenticate each segment (a corrupt one throws 'backup-corrupt' naming it). Default false: names only. */
  authenticate?: boolean;
  /** Stop after this segment number (inclusive); default: the end of the unbroken archive. */
  until?: bigint;
  onSegment?: (done: number, name: string) => void;
}

/**
 * Walks the archive the way recovery will read it: from the segment holding `startLsn`, one segment after another, each
 * from the timeline the history assigns it, until the first one that is missing (replay ends there) or `until`.
 * Authenticating reads every segment through the repository's AEAD, so a damaged one is found before a restore is
 * written rather than when the restored server reaches it.
 */
export async function walkArchivedWal(repository: Repository, history: TimelineHistory, startLsn: bigint, segmentSize: number, options: WalkOptions = {}): Promise<ArchivedWalPath> {
  const archived = new Set(await repository.listWal());
  const segments: { segment: bigint; timeline: number; name: string; snapshot?: boolean }[] = [];
  let firstMissing: string | undefined;
  for (let segment = segmentOf(startLsn, segmentSize); options.until === undefined || segment <= options.until; segment += 1n) {
    const timeline = history.timelineOfSegment(segment, segmentSize);
    const name = segmentName(timeline, segment, segmentSize);
    if (!archived.has(name)) {
      // A streamed snapshot of the segment being written ends the run: recovery replays it, then stops.
      if (archived.has(`${name}.stream`)) {
        if (options.authenticate) await repository.getWal(`${name}.stream`);
        segments.push({ segment, timeline, name: `${name}.stream`, snapshot: true });
      }
      firstMissing = name;
      break;
    }
    if (options.authenticate) {
      try {
        await repository.getWal(name);
      } catch (error) {
        throw new PostgresBackupError('backup-corrupt', `WAL segment ${name} in the archive is damaged (${(error as Error).message}); recovery would stop there, so nothing was written; restore to a target before it, or repair the archive from a copy`, { items: [name], cause: error });
      }
    }
    segments.push({ segment, timeline, name });
    options.onSegment?.(segments.length, name);
  }
  return { segments, firstMissing };
}
