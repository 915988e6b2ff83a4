// PostgreSQL physical backups, the WAL archive, restore and point-in-time recovery (the library the backup manager
// and the CLI call).
export { backupPostgres, type PostgresBackupOptions } from './backup-postgres.js';
export { backupPostgresStream, type PostgresStreamBackupOptions } from './backup-postgres-stream.js';
export type { PostgresBackupProgress, PostgresBackupResult } from './postgres-backup-result.js';
export { chooseParentBackup } from './choose-parent-backup.js';
export { restorePostgres, type PostgresRestoreOptions, type PostgresRestoreProgress, type PostgresRestoreResult } from './restore-postgres.js';
export { startRestoredCluster, type StartRestoredClusterOptions } from './start-restored-cluster.js';
export type { RecoveryTarget } from './recovery-settings.js';
export { walPush } from './wal-push.js';
export { walGet } from './wal-get.js';
export { walCheck, type WalCheckOptions, type WalCheckReport } from './wal-check.js';
export { WAL_EXIT } from './wal-exit-codes.js';
export { openRepositoryForWal, resolvePassphrase, type WalRepositoryAccess } from './open-repository-for-wal.js';
export { PostgresBackupError, type PostgresBackupErrorReason } from './postgres-backup-error.js';
export type { PostgresConnection } from './postgres-session.js';
