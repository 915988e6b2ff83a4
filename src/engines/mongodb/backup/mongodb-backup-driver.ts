import type { BackupDriver, BackupSource, PreparedBackup, RestoreRequest } from '../../../backup/backup-driver.js';
import type { RecoverabilityWindow, RestoreResult } from '../../../backup/backup-types.js';
import { resolveDatabaseConfig } from '../../../config/resolve-database-config.js';
import { restoreTargetSpec } from '../../../backup/describe-restore-target.js';
import { CapabilityError, UsageError } from '../../../errors/index.js';
import type { BackupSummary, Repository } from '../../../repository/repository-types.js';
import { redactUrlPasswords } from '../../../util/secrets.js';
import { backupMongodb } from './backup-mongodb.js';
import { openBackupClient } from './backup-client.js';
import { chainFrom, listOplogSlices } from './oplog-chain.js';
import { continueOplogCapture } from './continue-oplog-capture.js';
import { decodeOplogSlice } from './oplog-slice.js';
import { compareOplogTime, formatOplogTime, oplogTimeDate, parseOplogTime } from './oplog-timestamp.js';
import { restoreMongodb } from './restore-mongodb.js';
import { parseRecoveryTime } from '../../../config/recovery-time.js';

/**
 * MongoDB's logical backups (per collection documents, options and indexes, plus the oplog written meanwhile), oplog
 * slices in the repository's log archive, restore into a live server's database with replay to a time, the window.
 */
export const mongodbBackupDriver: BackupDriver = {
  engine: 'mongodb',

  async prepare({ adapter, config }: BackupSource): Promise<PreparedBackup> {
    return {
      // Nothing but datakeep writes the repository (no server-side archiver as PostgreSQL's).
      repositoryOwner: undefined,
      backup: async (repository, { onProgress, signal }) => {
        const { client, database } = await openBackupClient(config);
        try {
          const result = await backupMongodb({ client, database, id: adapter.id, repository, onProgress, signal });
          return {
            backupId: result.backupId, type: 'full', method: 'logical', sizeBytes: result.sizeBytes, storedBytes: result.storedBytes,
            startedAt: result.startedAt, finishedAt: result.finishedAt, walSegments: result.slices.length, consistentAt: result.consistentAt,
          };
        } finally {
          await client.close().catch(() => undefined);
        }
      },
    };
  },

  async restore(request: RestoreRequest): Promise<RestoreResult> {
    const { options, repository, database, backupId } = request;
    if (!options.target) throw new UsageError('target', `a MongoDB backup restores into a live server: give target {url: "mongodb://host:port", database?} (CLI: --target, --target-database); "to" is for engines restored into a directory`);
    const target = restoreTargetSpec(options.target);
    for (const [field, value] of [['targetLsn', options.targetLsn], ['targetName', options.targetName], ['targetTimeline', options.targetTimeline]] as const) {
      if (value !== undefined) throw new UsageError(field, 'is PostgreSQL\'s; a MongoDB restore stops at a targetTime, or at the backup\'s end without one');
    }
    const targetTime = options.targetTime === undefined ? undefined : parseRecoveryTime(options.targetTime, { timeZone: options.timeZone, field: options.fields?.time }).toDate();
    // The target is a connection of its own, checked like any configured database (its URL's options apply).
    const config = resolveDatabaseConfig({ url: target.url, database: target.database ?? 'admin', id: `restore-target`, applicationName: 'datakeep-restore' }, 'restoreBackup(options).target');
    const { client } = await openBackupClient(config);
    try {
      const result = await restoreMongodb({
        repository, database, backupId, client, targetDatabase: target.database, replace: target.replace ?? false, targetTime, signal: options.signal, onProgress: options.onProgress,
      });
      const where = `${redactUrlPasswords(target.url).replace(/\/?(\?.*)?$/, '')}/${result.database}`;
      return {
        backupId: result.backupId, note: `${result.documents} document(s) restored, ${result.oplogEntries} oplog entr${result.oplogEntries === 1 ? 'y' : 'ies'} replayed`, database, to: where, timeline: 1,
        target: result.reached, started: true, walSegmentsChecked: 0, recoverySettings: [], startCommand: '',
      };
    } finally {
      await client.close().catch(() => undefined);
    }
  },

  async verifyLog(repository: Repository, summary: BackupSummary) {
    const start = typeof summary.metadata.oplogStart === 'string' ? parseOplogTime(summary.metadata.oplogStart) : undefined;
    if (start === undefined) return { segments: 0, endsAt: undefined, problem: undefined };
    const chain = chainFrom(await listOplogSlices(repository), start);
    const end = typeof summary.metadata.oplogEnd === 'string' ? parseOplogTime(summary.metadata.oplogEnd) : undefined;
    if (end !== undefined && compareOplogTime(chain.end, end) < 0) {
      return { segments: chain.links.length, endsAt: formatOplogTime(chain.end), problem: { kind: 'missing-wal' as const, backupId: summary.backupId, path: formatOplogTime(chain.end), message: `the backup's oplog ends at ${formatOplogTime(chain.end)}, before its consistency point ${formatOplogTime(end)}: a slice is missing` } };
    }
    for (const link of chain.links) {
      try {
        const content = await repository.getWal(link.name);
        if (content === undefined) throw new Error('missing');
        decodeOplogSlice(link.name, content);
      } catch (error) {
        return { segments: chain.links.indexOf(link), endsAt: formatOplogTime(link.previous), problem: { kind: 'corrupt-wal' as const, backupId: summary.backupId, path: link.name, message: (error as Error).message } };
      }
    }
    return { segments: chain.links.length, endsAt: formatOplogTime(chain.end), problem: undefined };
  },

  async window(repository: Repository, database: string): Promise<RecoverabilityWindow> {
    const backups = (await repository.list()).filter((b) => b.database === database);
    const oldest = backups[0];
    const from = oldest ? { time: String(oldest.metadata.consistentAt ?? oldest.finishedAt), lsn: typeof oldest.metadata.oplogEnd === 'string' ? oldest.metadata.oplogEnd : undefined, backupId: oldest.backupId } : undefined;
    const start = oldest && typeof oldest.metadata.oplogStart === 'string' ? parseOplogTime(oldest.metadata.oplogStart) : undefined;
    if (start === undefined) return { database, timeline: 1, from, to: undefined, firstMissingWal: undefined, backups: backups.length };
    const slices = await listOplogSlices(repository);
    const chain = chainFrom(slices, start);
    const last = chain.links.at(-1);
    return {
      database, timeline: 1, from,
      to: { time: oplogTimeDate(chain.end).toISOString(), lsn: formatOplogTime(chain.end), segment: last?.name ?? '' },
      firstMissingWal: chain.gapAfter ? formatOplogTime(chain.gapAfter) : undefined,
      backups: backups.length,
    };
  },

  async expireLog(repository: Repository, before: string): Promise<number> {
    const old = (await listOplogSlices(repository)).filter((s) => s.name < before).map((s) => s.name);
    await repository.deleteWal(old);
    return old.length;
  },

  captureLog: (input) => continueOplogCapture(input),

  async drill() {
    throw new CapabilityError('mongodb', 'restore drills', 'a drill restores into a scratch server, and datakeep starts none for MongoDB', 'Restore into a scratch database with restoreBackup(id, {target: {url, database}}) and check it');
  },
};
