import type { BackupDriver, BackupSource, PreparedBackup, RestoreRequest } from '../../backup/backup-driver.js';
import type { RestoreResult } from '../../backup/backup-types.js';
import { UsageError } from '../../errors/index.js';
import type { BackupSummary, Repository } from '../../repository/repository-types.js';
import { backupLogical } from '../postgres/logical/backup-logical.js';
import { drillLogical } from '../postgres/logical/drill-logical.js';
import { logicalBackupFor, logicalWindow, restoreLogicalRequest } from '../postgres/logical/logical-driver-parts.js';
import { assertFull } from '../postgres/logical/prepare-logical-postgres.js';
import type { PgliteAdapter } from './pglite-adapter.js';
import { openPgliteSnapshot } from './pglite-logical.js';

/**
 * The embedded database's backups: logical only (PGlite has no WAL archive or replication), with the same code as
 * PostgreSQL's logical backups on its one session; restores into a new embedded directory or a PostgreSQL database.
 */
export const pgliteBackupDriver: BackupDriver = {
  engine: 'pglite',

  async prepare({ adapter, method }: BackupSource): Promise<PreparedBackup> {
    if (method === 'physical') throw new UsageError('method', 'the embedded database (PGlite) has no physical backups (no WAL archive); use method "logical" or leave it out');
    const embedded = adapter as unknown as PgliteAdapter;
    return {
      repositoryOwner: undefined,
      backup: async (repository, { type, onProgress, signal, tables }) => {
        assertFull(type);
        const result = await embedded.withDatabase((db) => backupLogical({
          snapshot: () => openPgliteSnapshot(db), repository, database: adapter.id, engine: 'pglite', tables, onProgress, signal,
        }));
        return { ...result, type: 'full', method: 'logical', walSegments: 0, consistentAt: new Date(result.snapshotTime) };
      },
    };
  },

  async restore(request: RestoreRequest): Promise<RestoreResult> {
    const summary = await logicalBackupFor(request) ?? await newest(request);
    return restoreLogicalRequest(request, summary);
  },

  verifyLog: () => Promise.resolve({ segments: 0, endsAt: undefined, problem: undefined }),
  window: (repository: Repository, database: string) => logicalWindow(repository, database, undefined),
  expireLog: () => Promise.resolve(0),
  drill: (input) => drillLogical({ kind: input.kind, checks: input.checks, server: input.server, restore: input.restore }),
};

async function newest(request: RestoreRequest): Promise<BackupSummary> {
  const all = (await request.repository.list()).filter((s) => s.database === request.database && (request.backupId === undefined || request.backupId === 'latest' || s.backupId === request.backupId));
  const found = all.at(-1);
  if (!found) throw new UsageError('backupId', `no logical backup of ${request.database}${request.backupId ? ` with id ${request.backupId}` : ''} in the repository`);
  if (request.options.targetTime !== undefined || request.options.targetLsn !== undefined || request.options.targetName !== undefined) {
    throw new UsageError('targetTime', `the embedded database's backups are snapshots (backup ${found.backupId} at ${String(found.metadata.snapshotTime)}); there is no point-in-time recovery between them; leave the target out and pick a backup id`);
  }
  return found;
}
