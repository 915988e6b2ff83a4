import type { BackupDriver, BackupSource, PreparedBackup } from '../../../backup/backup-driver.js';
import type { RecoverabilityWindow } from '../../../backup/backup-types.js';
import type { BackupSummary, Repository } from '../../../repository/repository-types.js';
import { captureRedisStream } from './capture-redis-stream.js';
import { drillRedis } from './drill-redis.js';
import { ReplicationLink } from './replication-link.js';
import { replicationEndpoint } from './replication-endpoint.js';
import { restoreRedis } from './restore-redis.js';
import { redisFacts, storeSnapshot } from './snapshot-redis.js';
import { coveredUntil, readSegment, StreamLog } from './stream-log.js';
import { parseSegmentName } from './stream-segment.js';
import { RedisBackupError } from './redis-backup-error.js';

/**
 * Redis backups over the replication protocol: an RDB snapshot per backup (PSYNC's full resynchronisation, as
 * `redis-cli --rdb`), plus the command stream that captureRedisStream stores in segments, for point-in-time restores.
 * Positions are `<replication id>:<offset>`; the stream's segments live in the repository's log area.
 */
export const redisBackupDriver: BackupDriver = {
  engine: 'redis',

  async prepare({ adapter, config }: BackupSource): Promise<PreparedBackup> {
    const endpoint = replicationEndpoint(config);
    // A server that is down or refuses the credentials fails here, before a repository is created for it.
    (await ReplicationLink.open(endpoint)).close();
    return {
      repositoryOwner: undefined,
      backup: async (repository, { onProgress, signal }) => {
        signal?.throwIfAborted();
        const startedAt = new Date();
        // Connect before the backup begins: a server that is down leaves nothing in the repository.
        const link = await ReplicationLink.open(endpoint);
        try {
          const start = await link.sync(undefined, { rdbOnly: true });
          if (start.kind !== 'full') throw new RedisBackupError('protocol', `${endpoint.host}:${endpoint.port} continued a stream instead of sending a snapshot`);
          const manifest = await storeSnapshot({ repository, database: adapter.id, link, start, onProgress, signal });
          return {
            backupId: manifest.backupId, type: 'full', method: 'replication-protocol', sizeBytes: manifest.sizeBytes, storedBytes: manifest.storedBytes,
            startedAt, finishedAt: new Date(manifest.finishedAt), walSegments: 0,
            // +FULLRESYNC's arrival, when the master forked: the snapshot's instant.
            consistentAt: new Date(start.at),
          };
        } finally {
          link.close();
        }
      },
    };
  },

  restore: (request) => restoreRedis(request),

  async verifyLog(repository: Repository, summary: BackupSummary) {
    const facts = redisFacts(summary.metadata);
    if (!facts) return { segments: 0, endsAt: undefined, problem: undefined };
    const run = (await StreamLog.load(repository)).run(facts.replid, facts.offset);
    let segments = 0;
    for (const segment of run.segments) {
      try {
        await readSegment(repository, segment);
        segments += 1;
      } catch (error) {
        return { segments, endsAt: run.segments[segments - 1]?.name, problem: { kind: 'corrupt-wal' as const, backupId: summary.backupId, path: segment.name, message: (error as Error).message } };
      }
    }
    const problem = run.gapAt === undefined ? undefined : {
      kind: 'missing-wal' as const, backupId: summary.backupId, path: `${facts.replid}:${run.gapAt}`,
      message: `the captured stream after backup ${summary.backupId} stops at offset ${run.gapAt} and resumes later: the bytes in between were never stored (a capture was lost); restores can reach only up to the hole`,
    };
    return { segments, endsAt: run.segments.at(-1)?.name, problem };
  },

  async window(repository: Repository, database: string): Promise<RecoverabilityWindow> {
    const backups = (await repository.list()).filter((s) => s.database === database && redisFacts(s.metadata) !== undefined);
    const oldest = backups[0];
    if (oldest === undefined) return { database, timeline: 1, from: undefined, to: undefined, firstMissingWal: undefined, backups: 0 };
    const log = await StreamLog.load(repository);
    let to: RecoverabilityWindow['to'];
    let toMs = -1;
    for (const backup of backups) {
      const facts = redisFacts(backup.metadata)!;
      const run = log.run(facts.replid, facts.offset);
      const covered = await coveredUntil(repository, run, Date.parse(facts.consistentAt));
      if (covered.time > toMs) {
        toMs = covered.time;
        to = { time: new Date(covered.time).toISOString(), lsn: `${facts.replid}:${run.end}`, segment: run.segments.at(-1)?.name ?? facts.walSegments[0] ?? '' };
      }
    }
    const first = redisFacts(oldest.metadata)!;
    const gap = log.run(first.replid, first.offset).gapAt;
    return {
      database, timeline: 1, backups: backups.length, to,
      from: { time: first.consistentAt, lsn: `${first.replid}:${first.offset}`, backupId: oldest.backupId },
      firstMissingWal: gap === undefined ? undefined : `${first.replid}:${gap}`,
    };
  },

  async expireLog(repository: Repository, before: string): Promise<number> {
    const boundary = parseSegmentName(before);
    if (!boundary) return 0;
    // Older in time, and (same history) wholly before the oldest kept backup's offset: a segment that straddles the
    // offset still holds commands that backup's restores replay.
    const old = (await StreamLog.load(repository)).segments.filter((s) => s.firstAt < boundary.firstAt && (s.replid !== boundary.replid || s.end <= boundary.start));
    await repository.deleteWal(old.map((s) => s.name));
    return old.length;
  },

  async captureLog({ config, repository, database, intervalMs, signal, onProgress }) {
    let stored = 0;
    let note: string | undefined;
    // Continues (PSYNC) from the newest position of the repository; a master that lost it sends a snapshot first.
    await captureRedisStream({
      endpoint: replicationEndpoint(config), repository, database, signal, segmentMs: intervalMs ?? 1000,
      onSnapshot: (backupId, resynced, at) => {
        note = resynced ? `the server could not continue the stream (restarted, or its backlog rolled over): its new snapshot is stored as full backup ${backupId}` : `no position in the repository yet: the server's snapshot is stored as full backup ${backupId}`;
        onProgress({ position: `${at.replid}:${at.offset}`, coveredUntil: at.consistentAt, stored, note });
      },
      onSegment: (_name, segment) => {
        stored += 1;
        onProgress({ position: `${segment.replid}:${segment.end}`, coveredUntil: new Date(segment.coveredUntil), stored, note });
      },
    });
  },

  drill: (input) => drillRedis(input),
};
