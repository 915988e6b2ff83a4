import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { DatakeepContext } from '../datakeep-context.js';
import { enginesWith } from '../engines/engine-registry.js';
import { ConfigurationError, LockError, RepositoryError } from '../errors/index.js';
import type { Repository, RepositoryLease } from '../repository/repository-types.js';
import type { Logger } from '../util/logger.js';
import { logCaptureSetting } from './backup-config.js';
import { backupTargets } from './backup-drivers.js';
import type { BackupDriver } from './backup-driver.js';
import { LogCaptureMetrics } from './log-capture-metrics.js';
import { LogCaptureRunner, type LogCaptureState } from './log-capture-runner.js';
import type { RepositorySet } from './repository-set.js';

export type { LogCaptureState } from './log-capture-runner.js';

export interface LogCaptureRunOptions {
  /** Where the repositories are (default: the configured destination) and how to unlock them. */
  readonly destination?: string;
  readonly passphraseFile?: string;
  /** How often what arrived is stored (default: the configuration's `backups.logCapture.intervalSeconds`, else the engine's). */
  readonly intervalMs?: number;
  /** Stops the capture (after storing what arrived). */
  readonly signal: AbortSignal;
  readonly onState?: (state: LogCaptureState) => void;
  /** The longest wait between failed runs (default 60 s). */
  readonly maxBackoffMs?: number;
}

/**
 * `dm.backups.captures`: continuous capture of each database's log into its repository (the engine's
 * BackupDriver.captureLog), kept running across failures by a LogCaptureRunner, with its state for the API and the
 * `datakeep_log_capture_*` metrics. The service runs one per database (docs/service.md); the CLI one in the
 * foreground (`datakeep backup capture`).
 */
export class LogCaptures {
  readonly #running = new Map<string, LogCaptureRunner>();

  constructor(
    private readonly context: () => DatakeepContext,
    private readonly repositories: RepositorySet,
    private readonly logger: () => Logger,
    registry: Registry | undefined,
  ) {
    if (registry) new LogCaptureMetrics(registry, () => this.list());
  }

  /** The databases (of `databases`, default the backed-up ones) whose engine captures its log, and why the others are left out. */
  async targets(databases?: readonly string[]): Promise<{ capturable: { database: string; driver: BackupDriver }[]; skipped: { database: string; reason: string }[] }> {
    const context = this.context();
    const chosen = databases ?? context.config.backups?.databases;
    const { targets, skipped } = backupTargets(context.registry, chosen);
    const capturable: { database: string; driver: BackupDriver }[] = [];
    for (const { adapter, load } of targets) {
      const driver = await load();
      if (driver.captureLog) capturable.push({ database: adapter.id, driver });
      else skipped.push({ database: adapter.id, reason: `${driver.engine} archives its own log (PostgreSQL: archive_command, docs/backups.md), or has none to capture` });
    }
    if (databases && capturable.length < databases.length) {
      throw new ConfigurationError('databases', skipped.map((s) => `${s.database}: ${s.reason}`).join('; '), `Capture the log of ${enginesWith('backup').join(', ')} databases whose driver has it (Redis, MongoDB, MariaDB)`);
    }
    return { capturable, skipped };
  }

  /**
   * Captures `database`'s log into its repository until `signal` aborts, starting each failed run again after a
   * capped backoff; resolves with the final state once what arrived is stored.
   */
  async run(database: string, options: LogCaptureRunOptions): Promise<LogCaptureState> {
    const context = this.context();
    const { driver } = (await this.targets([database])).capturable[0]!;
    const adapter = context.registry.get(database);
    const config = context.config.databases.find((d) => d.id === database)!;
    const section = context.config.backups;
    const passphrase = await this.repositories.passphrase({ encryption: section?.encryption, passphraseFile: this.repositories.passphraseFile(options.passphraseFile) });
    const path = join(this.repositories.destination(options.destination), database);
    const intervalMs = options.intervalMs ?? logCaptureSetting(section).intervalMs;
    const runner = new LogCaptureRunner({
      database, engine: driver.engine, logger: this.logger(), maxBackoffMs: options.maxBackoffMs, onState: options.onState,
      run: async (signal, onProgress, onHolding) => {
        // Opened per run: a repository that was unreachable (a mount that came back) is found again.
        const repository = await this.repositories.openOrInit(path, passphrase, { workers: 1, compression: section?.compression ?? true, owner: undefined });
        try {
          const lease = await captureLease(repository, database);
          onHolding();
          try {
            await driver.captureLog!({ adapter, config, repository, database, intervalMs, signal: AbortSignal.any([signal, lease.lost]), onProgress });
            if (lease.lost.aborted) throw lease.lost.reason;
          } finally {
            await lease.release();
          }
        } finally {
          await repository.close?.();
        }
      },
    });
    if (this.#running.has(database)) throw new ConfigurationError('database', `"${database}" already has a log capture running in this process`, 'Stop it first, or capture another database');
    this.#running.set(database, runner);
    const stop = () => void runner.stop();
    options.signal.addEventListener('abort', stop, { once: true });
    if (options.signal.aborted) stop();
    try {
      await runner.start();
      await runner.stop();
      return runner.state;
    } finally {
      options.signal.removeEventListener('abort', stop);
      this.#running.delete(database);
    }
  }

  /** The captures running (or standing by) in this process. */
  list(): LogCaptureState[] {
    return [...this.#running.values()].map((r) => r.state);
  }
}

/**
 * The database's capture lease in its repository: two processes capturing one database (two service instances, the
 * service and `datakeep backup capture`) would store the same stretch of the log twice, cut differently, which reads
 * as a gap. One try: a holder that is alive puts this capture on standby (LockError 'timeout', naming it); one that
 * died on this host is taken over at once, one on another host once its heartbeat is a minute old.
 */
async function captureLease(repository: Repository, database: string): Promise<RepositoryLease> {
  try {
    return await repository.lease('log-capture', `log capture of ${database}`, { timeoutMs: 0 });
  } catch (error) {
    if (!(error instanceof RepositoryError) || error.reason !== 'lock-timeout') throw error;
    const held = error.holder ? `pid ${error.holder.pid} on ${error.holder.host} captures it since ${error.holder.since}` : 'another process captures it';
    throw new LockError('timeout', `log capture of ${database}`, `${held}; this one takes over when that one stops`, { cause: error });
  }
}
