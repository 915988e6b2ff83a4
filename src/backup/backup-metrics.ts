import { Counter, Gauge, type Registry } from 'prom-client';
import type { DatabaseBackupFacts } from './backup-facts.js';

/**
 * Facts younger than this are served from memory: reading them opens repositories and reads the newest WAL, which
 * costs far more than a scrape should, and backup facts change on a scale of minutes. A backup this process finishes
 * refreshes them at once (`ended`), and validateSystem() leaves what it read (`remember`), so the next scrape shows it.
 */
const FACTS_REUSE_MS = 30_000;

type Labels = { database_id: string; engine: string };

/**
 * The `datakeep_backup_*` and `datakeep_wal_archive_*` series, per database and engine, read lazily when scraped.
 * Timestamps are seconds since the epoch (`..._timestamp_seconds`); ages are seconds at the scrape.
 */
export class BackupMetrics {
  #cached: { at: number; facts: Promise<DatabaseBackupFacts[]> } | undefined;
  readonly #lastFailure = new Map<string, { engine: string; at: Date }>();

  constructor(registry: Registry | undefined, private readonly read: () => Promise<DatabaseBackupFacts[]>) {
    if (registry) this.#register(registry);
  }

  /** A backup of `database` by this process ended: the facts are read again at the next scrape. */
  ended(database: string, engine: string, ok: boolean, at = new Date()): void {
    // A success is read from the repository (whoever took it); a failure leaves nothing there, so it is kept here.
    if (!ok) this.#lastFailure.set(database, { engine, at });
    this.#cached = undefined;
  }

  /** Facts just read by someone else (validateSystem): the next scrapes serve them. */
  remember(facts: readonly DatabaseBackupFacts[]): void {
    this.#cached = { at: Date.now(), facts: Promise.resolve([...facts]) };
  }

  /** The facts (shared by concurrent scrapes); none while no destination is known or the repositories cannot be read. */
  async #facts(): Promise<DatabaseBackupFacts[]> {
    if (!this.#cached || Date.now() - this.#cached.at > FACTS_REUSE_MS) this.#cached = { at: Date.now(), facts: this.read().catch(() => []) };
    return this.#cached.facts;
  }

  #register(registry: Registry): void {
    const seconds = (d: Date) => d.getTime() / 1000;
    const facts = () => this.#facts();
    const failures = this.#lastFailure;
    const gauge = (name: string, help: string, values: (f: DatabaseBackupFacts) => number | undefined) => new Gauge({
      name, help, labelNames: ['database_id', 'engine'], registers: [registry],
      collect: async function (this: Gauge<'database_id' | 'engine'>) {
        this.reset();
        for (const f of await facts()) {
          const value = values(f);
          if (value !== undefined) this.set(labelsOf(f), value);
        }
      },
    });
    gauge('datakeep_backup_age_seconds', 'Seconds since the newest completed backup of the database finished', (f) => f.newest && (Date.now() - f.newest.finishedAt.getTime()) / 1000);
    gauge('datakeep_backup_last_success_timestamp_seconds', 'When the newest completed backup in the repository finished (seconds since the epoch)', (f) => f.newest && seconds(f.newest.finishedAt));
    gauge('datakeep_backup_repository_backups', 'Completed backups of the database in its repository', (f) => (f.error !== undefined && f.backups === 0 ? undefined : f.backups));
    gauge('datakeep_backup_recovery_window_start_seconds', 'First instant a point-in-time restore can reach (seconds since the epoch): the oldest backup\'s consistency point', (f) => f.window?.from && seconds(new Date(f.window.from.time)));
    gauge('datakeep_backup_recovery_window_end_seconds', 'Last instant a point-in-time restore can reach (seconds since the epoch): the last transaction end in the unbroken archive', (f) => (f.window?.to?.time ? seconds(new Date(f.window.to.time)) : undefined));
    gauge('datakeep_backup_last_drill_timestamp_seconds', 'When the last restore drill of the database ended (seconds since the epoch)', (f) => f.lastDrill && seconds(f.lastDrill.at));
    gauge('datakeep_backup_last_drill_success', '1 when the last restore drill of the database passed, 0 when it failed', (f) => f.lastDrill && (f.lastDrill.ok ? 1 : 0));
    gauge('datakeep_wal_archive_last_archived_timestamp_seconds', 'When the server\'s archiver last archived a WAL segment (pg_stat_archiver, seconds since the epoch)', (f) => f.archive?.archiver?.lastArchivedAt && seconds(f.archive.archiver.lastArchivedAt));
    gauge('datakeep_wal_archive_last_archived_age_seconds', 'Seconds since the server\'s archiver last archived a WAL segment', (f) => f.archive?.archiver?.lastArchivedAt && (Date.now() - f.archive.archiver.lastArchivedAt.getTime()) / 1000);
    gauge('datakeep_wal_archive_last_failure_timestamp_seconds', 'When the server\'s archive_command last failed (seconds since the epoch)', (f) => f.archive?.archiver?.lastFailedAt && seconds(f.archive.archiver.lastFailedAt));
    gauge('datakeep_wal_archive_segments_behind', 'Finished WAL segments the repository does not have yet', (f) => f.archive?.behind);
    gauge('datakeep_wal_archive_gap', '1 when a WAL segment after the newest backup is missing while later ones are archived (recovery stops at the gap)', (f) => f.archive && (f.archive.gap ? 1 : 0));
    new Counter({
      name: 'datakeep_wal_archive_failures_total', help: 'Failed archive_command runs the server counted since its statistics were reset (pg_stat_archiver.failed_count)',
      labelNames: ['database_id', 'engine'], registers: [registry],
      async collect() {
        this.reset();
        for (const f of await facts()) if (f.archive?.archiver) this.inc(labelsOf(f), f.archive.archiver.failures);
      },
    });
    new Gauge({
      name: 'datakeep_backup_last_failure_timestamp_seconds', help: 'When a backup of the database by this process last failed (seconds since the epoch)',
      labelNames: ['database_id', 'engine'], registers: [registry],
      collect() {
        this.reset();
        for (const [database_id, { engine, at }] of failures) this.set({ database_id, engine }, seconds(at));
      },
    });
  }
}

function labelsOf(f: DatabaseBackupFacts): Labels {
  return { database_id: f.database, engine: f.engine };
}
