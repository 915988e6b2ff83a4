import { DEFAULT_RETENTION } from '../config/backups-schema.js';
import { loadConfig } from '../config/load-config.js';
import { DataManager } from '../data-manager.js';
import { UsageError } from '../errors/index.js';
import type { BackupConfig } from '../backup/backup-config.js';
import type { BackupProgress, RecoverabilityWindow, RestoreProgress } from '../backup/backup-types.js';
import { toJson } from './cli-io.js';
import { withManager, type CommandContext } from './commands.js';
import { EXIT } from './exit-codes.js';
import { formatBytes, ProgressLine } from './progress-line.js';

export interface BackupFlags {
  type?: string;
  dest?: string;
  dryRun: boolean;
  targetTime?: string;
  targetLsn?: string;
  targetName?: string;
  targetTimeline?: string;
  timeZone?: string;
  to?: string;
  startPort?: string;
  port?: string;
  database?: string;
  passphraseFile?: string;
  archiveTo?: string;
  keepFailed: boolean;
  check?: string;
}

const USAGE = 'usage: datakeep backup create [--type full|differential|incremental] [--dest DIR] | list | verify ID | window [DB] | drill [DB] [--check SQL] | expire [--dry-run] | prune [--dry-run]';

/** The backup settings: the config file's "backups" section, then flags. Retention defaults are the library's. */
function backupConfig(ctx: CommandContext, flags: BackupFlags): BackupConfig {
  const section = loadConfig({ file: ctx.configFile }).backups ?? {};
  const destination = flags.dest ?? section.destination;
  if (!destination) throw new UsageError('--dest', 'no backup destination; pass --dest DIR or set "backups": {"destination": ...} in the config file');
  return {
    type: 'full', compression: true, encryption: true, retention: DEFAULT_RETENTION,
    ...section, destination, ...(flags.type ? { type: flags.type as BackupConfig['type'] } : {}),
    ...(flags.passphraseFile ? { passphraseFile: flags.passphraseFile } : {}),
  };
}

/**
 * Runs `fn` with a DataManager that is not initialized: commands that only read the backup repository (list, verify,
 * window, restore) must work while the database they protect is down, so they never open a connection.
 */
async function withRepositoryOnly<T>(ctx: CommandContext, fn: (dm: DataManager) => Promise<T>): Promise<T> {
  const dm = new DataManager({ configFile: ctx.configFile });
  try {
    return await fn(dm);
  } finally {
    await dm.close();
  }
}

function backupProgressLabel(database: string, p: BackupProgress): string {
  const wait = (p as { walWaiting?: { segment: string; seconds: number; archived: number; total: number } }).walWaiting;
  if (wait) return `${database} ${p.phase}: ${wait.archived}/${wait.total} segments, waiting ${Math.round(wait.seconds)} s for ${wait.segment}`;
  return `${database} ${p.phase}`;
}

/** `datakeep backup ...`: a thin layer over dm.backups, with a progress line on long runs. */
export async function backupCommand(ctx: CommandContext, flags: BackupFlags): Promise<number> {
  const [sub, arg] = ctx.positionals;
  if (!sub) throw new UsageError('backup', `missing subcommand; ${USAGE}`);
  const config = backupConfig(ctx, flags);
  const options = { destination: config.destination, passphraseFile: flags.passphraseFile };
  switch (sub) {
    case 'create':
      return withManager(ctx, async (dm) => {
        const progress = new ProgressLine((t) => process.stderr.write(t), Boolean(process.stderr.isTTY) && !ctx.json);
        const result = await dm.backups.createBackup(config, {
          onProgress: (db, p) => {
            const total = (p as { bytesTotal?: number }).bytesTotal;
            progress.update(backupProgressLabel(db, p), p.bytesDone, total ? Math.min(1, p.bytesDone / total) : undefined);
          },
        });
        if (ctx.json) ctx.io.out(toJson(result));
        else {
          for (const d of result.databases) {
            ctx.io.out(`${d.database}: ${d.type}${d.type !== d.requestedType ? ` (asked ${d.requestedType}: no full backup existed)` : ''} backup ${d.backupId}, ${formatBytes(d.sizeBytes)} of data, ${formatBytes(d.storedBytes)} stored, ${((d.finishedAt.getTime() - d.startedAt.getTime()) / 1000).toFixed(1)} s, ${d.walSegments} WAL segment(s)`);
          }
          for (const s of result.skipped) ctx.io.out(`${s.database}: skipped: ${s.reason}`);
          for (const e of result.expired) {
            if (e.expired.length) ctx.io.out(`${e.database}: expired ${e.expired.length} backup(s), ${e.walRemoved} WAL segment(s)`);
            ctx.io.out(`${e.database}: ${e.window.description}`);
          }
        }
        return EXIT.ok;
      });
    case 'list':
      return withRepositoryOnly(ctx, async (dm) => {
        const list = await dm.backups.listBackups(options);
        const windows = await dm.backups.window(undefined, options);
        if (ctx.json) ctx.io.out(toJson({ backups: list, windows }));
        else {
          for (const b of list) ctx.io.out(`${b.backupId}  ${b.database}  ${b.type.padEnd(12)} ${b.finishedAt}  ${formatBytes(b.sizeBytes).padStart(10)} data  ${formatBytes(b.storedBytes).padStart(10)} stored${b.parent ? `  parent ${b.parent}` : ''}`);
          ctx.io.out(`${list.length} backup(s)`);
          for (const w of windows) ctx.io.out(formatWindow(w));
        }
        return EXIT.ok;
      });
    case 'window':
      return withRepositoryOnly(ctx, async (dm) => {
        const windows = await dm.backups.window(arg ?? flags.database ?? ctx.db, options);
        if (ctx.json) ctx.io.out(toJson(windows));
        else for (const w of windows) ctx.io.out(formatWindow(w));
        return EXIT.ok;
      });
    case 'verify':
      return withRepositoryOnly(ctx, async (dm) => {
        if (!arg) throw new UsageError('ID', 'backup verify needs a backup id (see datakeep backup list)');
        const report = await dm.backups.verifyBackup(arg, options);
        if (ctx.json) ctx.io.out(toJson(report));
        else {
          for (const p of report.problems) ctx.io.out(`  ${p.kind}: ${p.path}${p.chunk ? ` chunk ${p.chunk}` : ''}: ${p.message}`);
          ctx.io.out(report.ok
            ? `ok: ${report.chunksChecked} chunks, ${formatBytes(report.bytesChecked)} re-read and re-hashed; ${report.walSegmentsAfter} WAL segment(s) after the backup authenticated${report.walEndsAt ? `, up to ${report.walEndsAt}` : ''}`
            : `CORRUPT: ${report.problems.length} problem(s)`);
        }
        return report.ok ? EXIT.ok : EXIT.failed;
      });
    case 'drill':
      return withManager(ctx, async (dm) => {
        if (flags.check !== undefined && flags.check.trim() === '') throw new UsageError('--check', 'is empty; give a query whose first column is true when the restored data is right, e.g. \'SELECT count(*) > 0 FROM orders\'');
        const reports = await dm.backups.drill({ ...options, database: arg ?? flags.database ?? ctx.db, checks: flags.check === undefined ? undefined : { sql: flags.check } });
        if (ctx.json) ctx.io.out(toJson(reports));
        else {
          for (const r of reports) {
            for (const run of r.runs) {
              const what = run.kind === 'latest' ? 'newest backup, all archived WAL' : `point in time ${run.target}`;
              ctx.io.out(`${r.database}: drill ${run.ok ? 'ok' : 'FAILED'}: ${what} (backup ${run.backupId ?? '-'}, ${(run.durationMs / 1000).toFixed(1)} s)${run.tables.length ? `; ${run.tables.map((t) => `${t.name} ${t.rows} rows`).join(', ')}` : ''}${run.check ? `; check ${run.check.ok ? 'passed' : `failed (${JSON.stringify(run.check.value)})`}` : ''}${run.error ? `\n  ${run.error.split('\n').join('\n  ')}` : ''}`);
            }
          }
          if (reports.length === 0) ctx.io.out('no backups to drill');
        }
        return reports.every((r) => r.ok) ? EXIT.ok : EXIT.failed;
      });
    case 'expire':
      return withManager(ctx, async (dm) => {
        const { resolveBackupConfig } = await import('../backup/backup-config.js');
        const out = await dm.backups.expireBackups({ ...options, dryRun: flags.dryRun, retention: resolveBackupConfig(config).retention });
        if (ctx.json) ctx.io.out(toJson(out));
        else {
          for (const e of out) {
            ctx.io.out(`${e.database}: ${e.dryRun ? 'would expire' : 'expired'} ${e.expired.length ? e.expired.join(', ') : 'nothing'}; keeping ${e.kept.map((k) => `${k.backupId} (${k.reasons.join(', ')})`).join('; ')}`);
            ctx.io.out(`${e.database}: ${e.window.description}`);
          }
        }
        return EXIT.ok;
      });
    case 'prune':
      return withManager(ctx, async (dm) => {
        const out = await dm.backups.prune({ ...options, dryRun: flags.dryRun });
        if (ctx.json) ctx.io.out(toJson(out));
        else for (const p of out) ctx.io.out(`${p.repository}: ${p.dryRun ? 'would remove' : 'removed'} ${p.chunksRemoved} chunk(s), ${formatBytes(p.bytesReclaimed)}`);
        return EXIT.ok;
      });
    default:
      throw new UsageError('backup', `unknown subcommand "${sub}"; ${USAGE}`);
  }
}

function formatWindow(w: RecoverabilityWindow): string {
  if (!w.from) return `${w.database}: no backup to restore from`;
  const to = w.to ? `${w.to.time ?? '(no transaction after the oldest backup yet)'} (archived WAL to ${w.to.lsn}, ${w.to.segment})` : '(no archived WAL)';
  return `${w.database}: recoverable on timeline ${w.timeline} from ${w.from.time} (backup ${w.from.backupId}) to ${to}`;
}

function parsePort(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(flag, `"${text}" is not a port; give a number from 1 to 65535`);
  return port;
}

function parseTimeline(text: string | undefined): number | 'latest' | undefined {
  if (text === undefined || text === 'latest') return text;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError('--target-timeline', `"${text}" is not a timeline; give a positive number, or latest`);
  return Number(text);
}

/**
 * `datakeep restore [ID] --to DIR [--target-time T [--time-zone Z] | --target-lsn L | --target-name N] [--start-port P]`.
 * Reads only the repository: it works while the source database is down.
 */
export async function restoreCommand(ctx: CommandContext, flags: BackupFlags): Promise<number> {
  const config = backupConfig(ctx, flags);
  const startPort = parsePort('--start-port', flags.startPort);
  const port = parsePort('--port', flags.port);
  const timeline = parseTimeline(flags.targetTimeline);
  if (port !== undefined && startPort !== undefined && port !== startPort) throw new UsageError('--port', `${port} differs from --start-port ${startPort}; the server listens on one port: give one of them`);
  if (flags.timeZone !== undefined && flags.targetTime === undefined) throw new UsageError('--time-zone', 'only says how to read --target-time, which is not given');
  return withRepositoryOnly(ctx, async (dm) => {
    const progress = new ProgressLine((t) => process.stderr.write(t), Boolean(process.stderr.isTTY) && !ctx.json);
    // Ctrl-C: stop writing and remove what was written, as for any failed restore (the error says so).
    const controller = new AbortController();
    const interrupt = (signal: NodeJS.Signals) => {
      process.stderr.write(`\ndatakeep restore: ${signal}: stopping and removing the partial restore\n`);
      controller.abort(new Error(`interrupted by ${signal}`));
    };
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    const label = (p: RestoreProgress) => (p.phase === 'checking-wal' ? `restore checking WAL (${p.walChecked ?? 0} segment(s) authenticated)` : `restore ${p.phase}`);
    const result = await dm.backups.restoreBackup(ctx.positionals[0], {
      destination: config.destination, to: flags.to, database: flags.database ?? ctx.db, passphraseFile: flags.passphraseFile,
      targetTime: flags.targetTime, timeZone: flags.timeZone, targetLsn: flags.targetLsn, targetName: flags.targetName, targetTimeline: timeline,
      port, start: startPort === undefined ? undefined : { port: startPort }, archiveTo: flags.archiveTo, keepFailed: flags.keepFailed,
      fields: { time: '--target-time', lsn: '--target-lsn', name: '--target-name' }, signal: controller.signal,
      onProgress: (p) => progress.update(label(p), p.bytesDone, p.bytesTotal ? p.bytesDone / p.bytesTotal : undefined, p.phase === 'done'),
    }).finally(() => {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
    });
    if (ctx.json) ctx.io.out(toJson(result));
    else {
      if (result.note) ctx.io.out(`note: ${result.note}`);
      ctx.io.out(`restored ${result.database} backup ${result.backupId} into ${result.to}${result.target ? ` to ${result.target}` : ' (replaying all archived WAL)'} on timeline ${result.timeline}; ${result.walSegmentsChecked} WAL segment(s) checked${result.started ? '; started, recovered and promoted' : ''}`);
      for (const line of result.recoverySettings) ctx.io.out(`  ${line.replace(/--passphrase-file \S+/, '--passphrase-file …')}`);
      if (!result.started) {
        const listens = port === undefined ? '; it keeps its source\'s port: pass --port to restore onto another one' : `, and listens on port ${port}`;
        ctx.io.out(`start it with: ${result.startCommand}\n  it ${result.target ? 'recovers to the target' : 'replays all archived WAL'}, promotes${listens}`);
      }
    }
    return EXIT.ok;
  });
}
