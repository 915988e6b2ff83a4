// MariaDB physical backups (mariadb-backup), the binlog archive, restore and point-in-time recovery.
export { backupMariadb, type MariadbBackupOptions, type MariadbBackupResult } from './backup-mariadb.js';
export { archiveBinlog, type BinlogArchiveResult } from './archive-binlog.js';
export { restoreMariadb, type MariadbRestoreOptions, type MariadbRestoreResult } from './restore-mariadb.js';
export { startRestoredServer, stopRestoredServer, type RestoredServer } from './restored-server.js';
export { mariadbWindow } from './binlog-window.js';
export { MariadbBackupError, type MariadbBackupErrorReason } from './mariadb-backup-error.js';
export type { MariadbServerAccess } from './mariadb-server-access.js';
export { mariadbBackupDriver } from './mariadb-backup-driver.js';
