import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import type { BackupDriver, BackupSource, PreparedBackup, RestoreRequest } from '../../../backup/backup-driver.js';
import type { RestoreResult } from '../../../backup/backup-types.js';
import { parseRecoveryTime } from '../../../config/recovery-time.js';
import { UsageError } from '../../../errors/index.js';
import type { BackupSummary, Repository, VerifyProblem } from '../../../repository/repository-types.js';
import { backupMariadb, ENGINE } from './backup-mariadb.js';
import { walkEvents } from './binlog-events.js';
import { parsePiece, seqOfFileKey } from './binlog-pieces.js';
import { mariadbWindow, runFrom } from './binlog-window.js';
import { drillMariadb } from './drill-mariadb.js';
import { restoreMariadb } from './restore-mariadb.js';
import { restoredServerArgs } from './restored-server.js';
import { shellQuote } from '../../../util/shell-quote.js';
import { continueBinlogArchive } from './continue-binlog-archive.js';
import type { MariadbServerAccess } from './mariadb-server-access.js';
import type { ResolvedDatabaseConfig } from '../../../config/database-config.js';

/**
 * MariaDB's physical backups: mariadb-backup streamed into the repository (full, incremental against the parent's
 * checkpoint LSN, differential against the newest full), the binlog archived into the same repository from each
 * backup's position, restores rolled forward to a second with mariadb-binlog, the window, binlog verification and
 * expiry, and drills. See docs/mariadb-backups.md.
 */
export const mariadbBackupDriver: BackupDriver = {
  engine: ENGINE,

  async prepare({ adapter, config }: BackupSource): Promise<PreparedBackup> {
    const access = serverAccess(config);
    return {
      // datakeep itself writes everything into the repository (the server runs no archive command).
      repositoryOwner: undefined,
      backup: async (repository, { type, workers, onProgress, signal }) => {
        const result = await backupMariadb({ access, repository, database: adapter.id, type, workers, onProgress, signal });
        return {
          backupId: result.backupId, type: result.type, method: 'data-directory', sizeBytes: result.sizeBytes, storedBytes: result.storedBytes,
          startedAt: new Date(result.startedAt), finishedAt: new Date(result.finishedAt), walSegments: result.binlogPieces,
          consistentAt: new Date(result.consistentAt),
        };
      },
    };
  },

  async restore(request: RestoreRequest): Promise<RestoreResult> {
    const { repository, destination, database, backupId, options } = request;
    if (options.targetLsn !== undefined || options.targetName !== undefined) {
      throw new UsageError(options.fields?.lsn ?? 'targetLsn', 'MariaDB restores take a targetTime only (the binlog is replayed to a second); give targetTime');
    }
    // The same reading as every engine's (a Date; ISO 8601 or PostgreSQL's form with an offset or zone; a zone-less
    // time with timeZone), so that one backup set's members all stop at the same instant.
    const target = options.targetTime === undefined ? undefined : parseRecoveryTime(options.targetTime, { timeZone: options.timeZone, field: options.fields?.time }).toDate();
    const to = resolvePath(options.to ?? join(await restoresDirectory(destination), `${database}-${new Date().toISOString().replace(/[:.]/g, '')}`));
    const result = await restoreMariadb({
      repository, database, backupId, to, target, inclusive: options.targetInclusive, start: options.start,
      keepFailed: options.keepFailed, signal: options.signal, onProgress: options.onProgress,
    });
    const port = options.start?.port ?? options.port ?? 3307;
    return {
      backupId: result.backupId, note: result.note, database, to: result.to, timeline: 1, target: result.target, started: result.started,
      walSegmentsChecked: result.binlogPieces,
      recoverySettings: [`chain=${result.chain.join(',')}`, ...(result.stopDatetime ? [`--stop-datetime='${result.stopDatetime}' (UTC)`] : [])],
      startCommand: ['mariadbd', ...restoredServerArgs(result.to, port)].map(shellQuote).join(' '),
    };
  },

  async verifyLog(repository: Repository, summary: BackupSummary) {
    const run = await runFrom(repository, summary);
    if (!run) return { segments: 0, endsAt: undefined, problem: undefined };
    let problem: VerifyProblem | undefined;
    let checked = 0;
    // Each piece is read back (getWal authenticates and checks its SHA-256) and walked event by event.
    for (const piece of run.pieces) {
      try {
        const content = await repository.getWal(piece.name);
        if (!content) throw new Error('missing');
        const { consumed } = walkEvents(content, piece.start);
        if (consumed !== content.length) throw new Error(`ends inside an event (${content.length - consumed} trailing bytes)`);
        checked++;
      } catch (error) {
        problem = { kind: 'corrupt-wal', backupId: summary.backupId, path: piece.name, message: `binlog piece ${piece.name}: ${(error as Error).message}` };
        break;
      }
    }
    if (!problem && run.gap) {
      problem = { kind: 'missing-wal', backupId: summary.backupId, path: run.gap.missing, message: `the binlog archive after backup ${summary.backupId} has a gap: ${run.gap.missing} is missing (${run.gap.laterPieces} later piece(s) archived); point-in-time restores stop before it` };
    }
    return { segments: checked, endsAt: run.pieces.at(-1)?.name, problem };
  },

  window: (repository, database) => mariadbWindow(repository, database),

  async expireLog(repository: Repository, before: string): Promise<number> {
    const boundary = seqOfFileKey(before);
    if (boundary === undefined) return 0;
    const old = (await repository.listWal()).filter((name) => (parsePiece(name)?.seq ?? Infinity) < boundary);
    await repository.deleteWal(old);
    return old.length;
  },

  captureLog: (input) => continueBinlogArchive({ ...input, access: serverAccess(input.config) }),

  drill: (input) => drillMariadb({ kind: input.kind, target: input.target, checks: input.checks, restore: input.restore }),
};

function serverAccess(config: ResolvedDatabaseConfig): MariadbServerAccess {
  return { host: config.host, port: config.port, user: config.username ?? 'root', password: config.password };
}

/** DESTINATION/restores, created enterable (0711) so that the server's OS user reaches its own restore beneath. */
async function restoresDirectory(destination: string): Promise<string> {
  const dir = join(destination, 'restores');
  if (!existsSync(dir)) await mkdir(dir, { recursive: true, mode: 0o711 });
  return dir;
}
