// Redis backups over the replication protocol, the captured command stream (PITR) and restores.
export { redisBackupDriver } from './redis-backup-driver.js';
export { captureRedisStream, type CaptureOptions, type CaptureResult } from './capture-redis-stream.js';
export { replicationEndpoint } from './replication-endpoint.js';
export { RedisBackupError, type RedisBackupErrorReason } from './redis-backup-error.js';
