import type { PreparedBackup } from '../../../backup/backup-driver.js';
import type { ResolvedDatabaseConfig } from '../../../config/database-config.js';
import { UsageError } from '../../../errors/index.js';
import { backupLogical } from './backup-logical.js';
import { postgresClientConfig } from './postgres-client-config.js';
import { openPostgresSnapshot } from './postgres-logical-snapshot.js';

/** Default COPY sessions of a logical backup (pg_dump -j's role); the backup's `workers` overrides it. */
const DEFAULT_WORKERS = 2;

/** A logical backup of a PostgreSQL database: its own sessions on one exported snapshot (the adapter's pool stays free). */
export function prepareLogicalPostgres(database: string, config: ResolvedDatabaseConfig): PreparedBackup {
  return {
    repositoryOwner: undefined,
    backup: async (repository, { type, workers, onProgress, signal, tables }) => {
      assertFull(type);
      const result = await backupLogical({
        snapshot: () => openPostgresSnapshot(postgresClientConfig(config), workers ?? DEFAULT_WORKERS),
        repository, database, engine: 'postgresql', tables, onProgress, signal,
      });
      return { ...result, type: 'full', method: 'logical', walSegments: 0, consistentAt: new Date(result.snapshotTime) };
    },
  };
}

/** Logical backups copy everything at one snapshot: there is nothing an incremental or differential could build on. */
export function assertFull(type: string): void {
  if (type !== 'full') {
    throw new UsageError('type', `a logical backup is always full (it has no block or WAL history to be ${type} against); use type "full", or method "physical" for ${type} backups of a PostgreSQL server`);
  }
}
