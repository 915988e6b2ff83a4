import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { logCaptureSetting, type BackupConfig } from '../backup/backup-config.js';
import type { ResolvedDatakeepConfig } from '../config/datakeep-config.js';
import type { DataManager } from '../data-manager.js';
import type { Logger } from '../util/logger.js';
import type { JobRegistry } from './jobs/job-registry.js';

/**
 * What the service runs besides HTTP, from the configuration: the backup schedule, the lifecycle policies' schedules,
 * the replication watcher (with an authority), the recovery loop of distributed transactions, and the migrations
 * directory the API reads. Each is started on its own: one that fails is logged and named in the returned list, and
 * the others still run (a service that refuses to start over a bad lifecycle rule would also stop taking backups).
 * With a backup destination, the log of every backed-up database whose engine can capture it (Redis, MongoDB,
 * MariaDB) is captured continuously, each capture a job (`backup.capture`) that runs until the service stops.
 */
export async function startConfiguredWork(dm: DataManager, config: ResolvedDatakeepConfig, logger: Logger, jobs?: JobRegistry): Promise<{ started: string[]; failed: { what: string; error: string }[] }> {
  const started: string[] = [];
  const failed: { what: string; error: string }[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      started.push(what);
    } catch (error) {
      failed.push({ what, error: (error as Error).message });
      logger.log('error', `could not start ${what}`, { operation: 'serve.start', what, error });
    }
  };
  const migrations = config.migrations?.directory ?? './migrations';
  if (config.migrations !== undefined || existsSync(resolve(migrations))) {
    await attempt('migrations', () => dm.initializeMigrations({ ...config.migrations, directory: migrations }));
  }
  if (config.backups?.schedule !== undefined) await attempt('backup schedule', () => dm.setupBackups(config.backups as BackupConfig));
  if (jobs && config.backups?.destination !== undefined && logCaptureSetting(config.backups).enabled) await attempt('log capture', () => startLogCaptures(dm, jobs, logger));
  if (config.lifecycle !== undefined) await attempt('lifecycle schedules', () => dm.setupLifecycleManagement(config.lifecycle!));
  const replication = config.replication;
  if (replication?.enabled && replication.authority !== undefined) await attempt('replication watcher', () => dm.setupReplication({ ...replication }));
  // Recovery finishes transactions a crashed coordinator left prepared; it only reads when there are none.
  await attempt('transaction recovery', async () => dm.transactions.start());
  return { started, failed };
}

/** One `backup.capture` job per database whose engine captures its log; the others are named in the log. */
async function startLogCaptures(dm: DataManager, jobs: JobRegistry, logger: Logger): Promise<void> {
  const { capturable, skipped } = await dm.backups.captures.targets();
  for (const s of skipped) logger.log('info', `no continuous log capture for ${s.database}: ${s.reason}`, { operation: 'serve.start', database: s.database });
  for (const { database } of capturable) {
    await jobs.start('backup.capture', database, 'service', async (progress, signal) => {
      const final = await dm.backups.captures.run(database, { signal, onState: (state) => progress({ ...state }) });
      return { ...final };
    }, { untilStopped: true });
  }
}
