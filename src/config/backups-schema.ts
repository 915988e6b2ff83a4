import { resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { cronProblem } from './cron-expression.js';
import { byKind, flag, integer, issueAt, list, nonEmptyText, object, oneOf, parseWithin, text } from './config-fields.js';
import { retentionSchema } from './retention-schema.js';
import { timeZone } from './time-zone.js';
import { MAX_WORKERS } from './worker-limit.js';

/** The seed's `BackupConfig`, plus options. */
export interface BackupConfig {
  type: 'full' | 'incremental' | 'differential';
  /** Repository directory; each database gets its own repository below it (`DESTINATION/<database id>`). */
  destination: string;
  /** zstd (true) or none. */
  compression: boolean;
  /**
   * true: the repository key is wrapped by the passphrase from $DATAKEEP_REPO_PASSPHRASE or `passphraseFile`
   * ($DATAKEEP_REPO_PASSPHRASE_FILE). false: a publicly known passphrase: objects stay authenticated (tampering and
   * corruption are detected) but anyone with the repository can read them.
   */
  encryption: boolean;
  /** How many daily/weekly/monthly/yearly backups to keep (a missing count keeps none of that kind). */
  retention: { daily?: number; weekly?: number; monthly?: number; yearly?: number; timeZone?: string };
  /** Cron expression for setupBackups (five fields, or six with seconds). */
  schedule?: string;
  /** Time zone of `schedule` and of the retention calendar (default UTC). */
  timeZone?: string;
  /** Which databases (ids); default every database that has a backup driver. */
  databases?: string[];
  passphraseFile?: string;
  /** Parallel file workers per backup (default: CPUs, at least 2; at most MAX_WORKERS). */
  workers?: number;
  /** Ticks missed while no datakeep ran: run the latest once at start (default) or skip them. */
  missedRunPolicy?: 'run-once' | 'skip';
  /** Seconds to wait for the archiver to push a backup's WAL (default 120). */
  walTimeout?: number;
  /**
   * physical (the data directory plus WAL: PITR, incremental) or logical (schema and rows of `tables` as of one
   * snapshot, restorable table by table into another database; always full). Default: physical where the engine has
   * it (PostgreSQL), else logical (the embedded PGlite).
   */
  method?: 'physical' | 'logical';
  /** Logical backups: only these tables (`schema.table` or `table`; default every user table). */
  tables?: string[];
  /**
   * Continuous capture of each database's log (Redis stream, MongoDB oplog, MariaDB binlog) by `datakeep serve`, for
   * point-in-time restores between backups. Default true: on for every backed-up database whose engine can capture its
   * log, whenever the service runs with a destination. `intervalSeconds`: how often what arrived is stored (the writes
   * at risk; default the engine's: Redis 1, MongoDB and MariaDB 10).
   */
  logCapture?: boolean | { enabled?: boolean; intervalSeconds?: number };
  /**
   * PostgreSQL physical restores: WAL segments the restored server's restore_command fetches ahead of replay (default
   * 8, at most 64; 0 turns prefetching off).
   */
  walPrefetch?: number;
}

/** The `backups` section of the configuration file: defaults for `datakeep backup` and `restore`, every field optional. */
export type BackupsSection = Partial<BackupConfig>;

/** The default retention when a backup configuration gives none; the CLI and the library share it. */
export const DEFAULT_RETENTION = Object.freeze({ daily: 7 });

const LOG_CAPTURE_FIX = 'Write "logCapture": false, true or {"intervalSeconds": 10}';
const DESTINATION_FIX = 'Give the repository directory, e.g. "./backups"';

function backupSchema(destinationRequired: boolean) {
  return object(
    {
      type: oneOf(['full', 'incremental', 'differential'], 'a backup type', 'Use full, differential or incremental').default('full'),
      destination: nonEmptyText(DESTINATION_FIX).optional(),
      compression: flag().default(true),
      encryption: flag().default(true),
      retention: z.unknown().optional(),
      schedule: text().optional(),
      timeZone: timeZone().default('UTC'),
      databases: list(text(), 'Give e.g. ["postgresql-localhost-app_db"], or leave it out for every database', 'an array of database ids').optional(),
      passphraseFile: text().optional(),
      workers: integer(1, MAX_WORKERS).optional(),
      missedRunPolicy: oneOf(['run-once', 'skip'], 'a policy', 'Use "run-once" or "skip"').default('run-once'),
      walTimeout: integer(1, 86_400, ' (seconds)').default(120),
      method: oneOf(['physical', 'logical'], 'a backup method', 'Use "physical" (data directory and WAL) or "logical" (tables by COPY)').optional(),
      tables: list(nonEmptyText('Give a table name, e.g. "public.orders"'), 'Give e.g. ["public.orders", "customers"], or leave it out for every table', 'an array of table names').optional(),
      walPrefetch: integer(0, 64, ' (WAL segments fetched ahead; 0: off)').optional(),
      logCapture: byKind<{ enabled: boolean; intervalMs: number | undefined }>({
        boolean: flag().transform((enabled) => ({ enabled, intervalMs: undefined })),
        object: object({ enabled: flag().default(true), intervalSeconds: integer(1, 3600, ' (seconds)').optional() }, LOG_CAPTURE_FIX)
          .transform((c) => ({ enabled: c.enabled, intervalMs: c.intervalSeconds === undefined ? undefined : c.intervalSeconds * 1000 })),
      }, 'true, false or {intervalSeconds}', LOG_CAPTURE_FIX).optional(),
    },
    'Give {type, destination, compression, encryption, retention}',
  ).transform((c, ctx) => {
    if (destinationRequired && c.destination === undefined) {
      issueAt(ctx, ['destination'], 'is missing', DESTINATION_FIX);
      return z.NEVER;
    }
    // The retention calendar follows the section's time zone unless it names its own.
    const given = c.retention ?? DEFAULT_RETENTION;
    const inherits = typeof given === 'object' && given !== null && !Array.isArray(given) && (given as { timeZone?: unknown }).timeZone === undefined;
    const retention = parseWithin(ctx, retentionSchema, inherits ? { ...given, timeZone: c.timeZone } : given, ['retention']);
    if (c.method === 'logical' && c.type !== 'full') issueAt(ctx, ['type'], `"${c.type}" does not apply to logical backups (each is a whole snapshot)`, 'Use type "full" with method "logical", or method "physical" for incremental and differential backups');
    if (c.tables !== undefined && c.method !== 'logical') issueAt(ctx, ['tables'], 'applies to logical backups only', 'Add method: "logical", or leave tables out');
    const cron = c.schedule === undefined ? undefined : cronProblem(c.schedule, c.timeZone);
    if (cron) issueAt(ctx, ['schedule'], cron.problem, cron.fix);
    return {
      type: c.type,
      destination: c.destination === undefined ? undefined : resolvePath(c.destination),
      compression: c.compression,
      encryption: c.encryption,
      retention,
      schedule: c.schedule,
      timeZone: c.timeZone,
      databases: c.databases,
      passphraseFile: c.passphraseFile,
      workers: c.workers,
      missedRunPolicy: c.missedRunPolicy,
      walTimeoutMs: c.walTimeout * 1000,
      method: c.method,
      tables: c.tables,
      logCapture: c.logCapture ?? { enabled: true, intervalMs: undefined },
      walPrefetch: c.walPrefetch,
    };
  });
}

/** A backup configuration given to createBackup / setupBackups: every field checked, defaults filled in. */
export const backupConfigSchema = backupSchema(true) as z.ZodType<z.output<ReturnType<typeof backupSchema>> & { destination: string }>;

/** The configuration file's `backups` section: the same rules, the destination optional (`--dest` may give it). */
export const backupsSectionSchema = backupSchema(false);
