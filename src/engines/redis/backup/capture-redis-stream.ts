import type { Repository } from '../../../repository/repository-types.js';
import { RedisBackupError } from './redis-backup-error.js';
import { ReplicationLink, type ReplicationEndpoint, type StreamBatch } from './replication-link.js';
import { redisFacts, storeSnapshot } from './snapshot-redis.js';
import { StreamLog } from './stream-log.js';
import { encodeSegment, segmentName } from './stream-segment.js';
import { masterOffset } from './master-offset.js';

/** A stop reads the stream up to the master's offset at the stop, for at most this long. */
const DRAIN_LIMIT_MS = 5000;
/** Without the master's offset (it did not answer), a stop waits until the link has been quiet this long. */
const QUIET_MS = 200;

export interface CaptureOptions {
  readonly endpoint: ReplicationEndpoint;
  readonly repository: Repository;
  /** The database id backups of this repository carry. */
  readonly database: string;
  /** Stops the capture (after storing what arrived). */
  readonly signal?: AbortSignal;
  /** Stops the capture after this long (a bounded run; a scheduler starts the next one). */
  readonly maxDurationMs?: number;
  /** A segment is written at most this long after its first batch arrived (default 1000 ms): the PITR data at risk. */
  readonly segmentMs?: number;
  /** A segment is written once it holds this many bytes (default 8 MiB); memory stays within about twice that. */
  readonly segmentBytes?: number;
  /** Called after each segment is stored (its name; where it ends and when it was cut), for progress displays and tests. */
  readonly onSegment?: (name: string, segment: { replid: string; end: number; coveredUntil: number }) => void;
  /** Called when the master sent a new snapshot instead of continuing, once it is stored as a full backup. */
  readonly onSnapshot?: (backupId: string, resynced: boolean, at: { replid: string; offset: number; consistentAt: Date }) => void;
}

export interface CaptureResult {
  readonly replid: string;
  /** Where the capture started and stopped in the stream. */
  readonly fromOffset: number;
  readonly toOffset: number;
  /** True when the master could not continue from the repository's last position and sent a new snapshot, stored
   * as a full backup (its id in `backupId`): the stream before it has a hole. */
  readonly resynced: boolean;
  readonly backupId: string | undefined;
  readonly segments: number;
  readonly ended: 'aborted' | 'duration';
}

/**
 * Captures the replication stream into the repository, for point-in-time restores: a replica link that continues
 * (PSYNC <replid> <offset+1>) from the newest position the repository knows (a backup's or a segment's end). When the
 * master's backlog no longer holds that position, it sends a new RDB, which is stored as a full backup before the
 * stream is captured on from it. Batches are stamped with the local clock as they arrive and written as segments
 * (each at most `segmentMs` after its first batch). Ends on abort or after `maxDurationMs`; a lost link stores what
 * arrived and throws a RedisBackupError ('connection-failed'): run it again to continue.
 */
export async function captureRedisStream(options: CaptureOptions): Promise<CaptureResult> {
  const { repository, database } = options;
  options.signal?.throwIfAborted();
  const position = await lastPosition(repository, database);
  const link = await ReplicationLink.open(options.endpoint);
  const segmentMs = options.segmentMs ?? 1000;
  const segmentBytes = options.segmentBytes ?? 8 * 1024 * 1024;
  let batches: StreamBatch[] = [];
  let bytes = 0;
  let written = 0;
  let flushing: Promise<void> = Promise.resolve();
  let storeFailure: unknown;
  let replid = '';
  try {
    const start = await link.sync(position);
    replid = start.replid;
    const fromOffset = start.offset;

    const flush = (): Promise<void> => {
      if (batches.length === 0) return flushing;
      const taken = batches;
      batches = [];
      bytes = 0;
      const first = taken[0]!;
      const last = taken.at(-1)!;
      const name = segmentName(first.at, replid, first.start, last.end);
      const cut = Date.now();
      const content = encodeSegment({ replid, start: first.start, end: last.end, coveredUntil: cut, batches: taken.length }, taken);
      flushing = flushing.then(async () => {
        if (storeFailure !== undefined) return;
        try {
          await repository.putWal(name, content);
          written += 1;
          options.onSegment?.(name, { replid, end: last.end, coveredUntil: cut });
        } catch (error) {
          storeFailure = error;
          link.close();
        }
      });
      // A slow repository pauses the link: the master keeps the rest in its buffer for this replica.
      link.pause();
      void flushing.then(() => link.resume());
      return flushing;
    };
    let lastArrival = 0;
    link.onBatch((batch) => {
      lastArrival = Date.now();
      batches.push(batch);
      bytes += batch.bytes.length;
      if (bytes >= segmentBytes) void flush();
    });
    // Batches are taken (and segments written) while a new snapshot is still being stored: a link lost meanwhile
    // must not lose what arrived.
    let backupId: string | undefined;
    if (start.kind === 'full') {
      // Not cut short by a stop: what arrived (the snapshot, and the stream after it) is stored first.
      backupId = (await storeSnapshot({ repository, database, link, start })).backupId;
      options.onSnapshot?.(backupId, position !== undefined, { replid: start.replid, offset: start.offset, consistentAt: start.at });
    }
    const timer = setInterval(() => {
      if (batches.length > 0 && Date.now() - batches[0]!.at >= segmentMs) void flush();
    }, Math.max(50, Math.min(segmentMs, 1000) / 2));
    timer.unref();
    let ended: CaptureResult['ended'] = 'aborted';
    try {
      const stop = new Promise<CaptureResult['ended']>((resolve) => {
        if (options.maxDurationMs !== undefined) setTimeout(() => resolve('duration'), options.maxDurationMs).unref();
        if (options.signal?.aborted) resolve('aborted');
        options.signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
      });
      const lost = link.closed().then((error) => {
        throw error ?? new RedisBackupError('connection-failed', 'the replication link was closed');
      });
      ended = await Promise.race([stop, lost]);
      const target = await masterOffset(options.endpoint, Math.min(1000, options.endpoint.timeoutMs));
      await drain(() => lastArrival, () => link.offset, target);
    } finally {
      clearInterval(timer);
      await flush();
      link.close();
    }
    if (storeFailure !== undefined) throw new RedisBackupError('connection-failed', `a stream segment could not be stored: ${(storeFailure as Error).message}; the capture stopped`, { cause: storeFailure });
    return { replid, fromOffset, toOffset: link.offset, resynced: start.kind === 'full' && position !== undefined, backupId, segments: written, ended };
  } catch (error) {
    await flushing;
    link.close();
    throw error;
  }
}

/**
 * On a stop, reads the stream on before the last segment is cut, so that every write the master acknowledged before
 * the stop is stored: up to the master's offset at the stop (`target`), which covers a link that was paused while a
 * segment was written or is behind on a busy machine. Without it (the master did not answer), until nothing has
 * arrived for QUIET_MS. Either way at most DRAIN_LIMIT_MS.
 */
async function drain(lastArrival: () => number, offset: () => number, target: number | undefined): Promise<void> {
  const stopAt = Date.now();
  for (let seen = offset(); ; seen = offset()) {
    if (target !== undefined && offset() >= target) return;
    await new Promise((resolve) => setTimeout(resolve, target === undefined ? 50 : 10));
    if (Date.now() - stopAt >= DRAIN_LIMIT_MS) return;
    const quietSince = Math.max(lastArrival(), stopAt);
    if (target === undefined && offset() === seen && Date.now() - quietSince >= QUIET_MS) return;
  }
}

/**
 * The newest stream position of the repository: the later of the newest backup's snapshot and the end of the newest
 * segment (a capture that ran after it), or undefined when the repository has neither.
 */
async function lastPosition(repository: Repository, database: string): Promise<{ replid: string; offset: number } | undefined> {
  const backups = (await repository.list()).filter((s) => s.database === database).map((s) => redisFacts(s.metadata)).filter((f) => f !== undefined);
  const log = await StreamLog.load(repository);
  const candidates = [
    ...backups.map((b) => ({ replid: b.replid, offset: b.offset, time: Date.parse(b.consistentAt) })),
    ...log.segments.map((s) => ({ replid: s.replid, offset: s.end, time: s.firstAt })),
  ];
  if (candidates.length === 0) return undefined;
  const newest = candidates.reduce((a, b) => (b.time > a.time ? b : a));
  // The furthest point of the newest history (a segment started earlier may end later than the newest one).
  const offset = Math.max(...candidates.filter((c) => c.replid === newest.replid).map((c) => c.offset));
  return { replid: newest.replid, offset };
}
