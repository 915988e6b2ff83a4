import type { BackupSummary, BackupType } from '../../../repository/repository-types.js';
import { PostgresBackupError } from './postgres-backup-error.js';

/**
 * The backup a new one is relative to: a differential's is the newest full, an incremental's the newest backup of any
 * type, of the same database (and of the same server when `systemIdentifier` is given: a re-initialised cluster
 * shares no file with the old one's backups). `summaries` come from `repository.list()` (completed backups, oldest
 * first). A full has no parent.
 */
export function chooseParentBackup(summaries: readonly BackupSummary[], database: string, type: BackupType, systemIdentifier?: string): BackupSummary | undefined {
  if (type === 'full') return undefined;
  const candidates = summaries.filter((s) =>
    s.database === database && s.metadata.method !== 'logical' &&
    (systemIdentifier === undefined || s.metadata.systemIdentifier === undefined || s.metadata.systemIdentifier === systemIdentifier) &&
    (type === 'incremental' || s.type === 'full'));
  const parent = [...candidates].sort((a, b) => a.startedAt.localeCompare(b.startedAt)).at(-1);
  if (!parent) {
    throw new PostgresBackupError('backup-not-found',
      `type: a ${type} backup of "${database}" needs an earlier ${type === 'differential' ? 'full backup' : 'backup'} of the same server in the repository, and there is none; take a full backup first`);
  }
  return parent;
}
