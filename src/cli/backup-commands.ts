import { Option, type Command } from 'commander';
import { UsageError } from '../errors/index.js';
import type { BackupConfig } from '../backup/backup-config.js';
import type { BackupProgress, RecoverabilityWindow } from '../backup/backup-types.js';
import { toJson } from './cli-io.js';
import { backupSettings, repositoryOptions, type RepositoryFlags } from './backup-settings.js';
import { runs, type CliRuntime, type CommandContext } from './command-context.js';
import { EXIT } from './exit-codes.js';
import { formatBytes, ProgressLine } from './progress-line.js';
import { registerCaptureCommand } from './capture-command.js';
import { registerRestoreCommand } from './restore-command.js';
import { withManager, withRepositoryOnly } from './with-manager.js';

interface BackupFlags extends RepositoryFlags {
  type?: BackupConfig['type'];
  method?: BackupConfig['method'];
  tables?: string[];
  target?: string;
  dryRun?: boolean;
  database?: string;
  check?: string;
}

/** What a backup subcommand does with the settings, the repository options and its arguments. */
type BackupAction = (ctx: CommandContext, run: BackupRun) => Promise<number>;

interface BackupRun {
  readonly flags: BackupFlags;
  readonly args: readonly string[];
  readonly config: BackupConfig;
  /** Where the repositories are and how to unlock them, for the repository-reading calls. */
  readonly repositories: { destination: string; passphraseFile: string | undefined };
}

/** `datakeep backup ...` and `datakeep restore`: a thin layer over dm.backups, with a progress line on long runs. */
export function registerBackupCommands(program: Command, runtime: CliRuntime): void {
  const backup = program.command('backup').description('backups and the recoverability window (docs/backups.md)');
  const sub = (name: string, description: string, action: BackupAction): Command => {
    // `datakeep backup` alone is `datakeep backup create`.
    const command = repositoryOptions(backup.command(name, { isDefault: name === 'create' }).description(description));
    command.action(runs(runtime, async (ctx, c) => {
      const flags = c.opts<BackupFlags>();
      const config = await backupSettings(ctx, flags, name !== 'create');
      return action(ctx, { flags, args: c.args, config, repositories: { destination: config.destination, passphraseFile: flags.passphraseFile ?? config.passphraseFile } });
    }));
    return command;
  };
  const dryRun = ['--dry-run', 'say what would be removed; remove nothing'] as const;
  const database = ['--database <id>', 'the database whose backups to use (as the DB argument)'] as const;

  sub('create', 'back up every database that has a backup driver, then apply retention (progress on stderr)', create)
    .addOption(new Option('--type <type>', 'full, differential (since the last full) or incremental (since the last backup); default: the config\'s, else full').choices(['full', 'differential', 'incremental']))
    .addOption(new Option('--method <method>', 'physical (data directory and WAL: PITR, incremental) or logical (tables by COPY at one snapshot); default: the config\'s, else physical where the engine has it').choices(['physical', 'logical']))
    .option('--tables <list>', 'with --method logical: only these tables (comma-separated, schema.table or table)', (v: string) => v.split(',').map((t) => t.trim()).filter((t) => t !== ''));
  sub('list', 'completed backups and each database\'s recoverability window (reads only the repository)', list);
  sub('verify', 're-read and re-hash every chunk of a backup, and authenticate every WAL segment after it (exit 1 when corrupt)', verify)
    .argument('<id>', 'the backup id (datakeep backup list)');
  sub('window', 'the first and last recoverable instant of each database (reads only the repository)', (ctx, run) =>
    withRepositoryOnly(ctx, async (dm) => {
      const windows = await dm.backups.window(run.args[0] ?? run.flags.database ?? ctx.db, run.repositories);
      if (ctx.json) ctx.io.out(toJson(windows));
      else for (const w of windows) ctx.io.out(formatWindow(w));
      return EXIT.ok;
    })).argument('[db]', 'one database id (default: every one)').option(...database);
  sub('drill', 'restore the newest backup and a random point of the window into scratch directories, start, check, record, remove (exit 1 when one fails)', drill)
    .argument('[db]', 'one database id (default: every one)').option(...database)
    .option('--check <sql>', 'a query whose first column is true when the restored data is right, e.g. \'SELECT count(*) > 0 FROM orders\'')
    .option('--target <url>', 'logical backups: the server for the scratch database (postgres://…); default an embedded one');
  sub('expire', 'apply the retention policy (the config\'s "backups.retention", else the library default)', expire).option(...dryRun);
  sub('prune', 'reclaim the chunks no backup uses any more', prune).option(...dryRun);
  registerCaptureCommand(backup, runtime);
  registerRestoreCommand(program, runtime);
}

function backupProgressLabel(database: string, p: BackupProgress): string {
  const wait = (p as { walWaiting?: { segment: string; seconds: number; archived: number; total: number } }).walWaiting;
  if (wait) return `${database} ${p.phase}: ${wait.archived}/${wait.total} segments, waiting ${Math.round(wait.seconds)} s for ${wait.segment}`;
  return `${database} ${p.phase}`;
}

const create: BackupAction = (ctx, { config }) => withManager(ctx, async (dm) => {
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
      ctx.io.out(`${d.database}: ${d.type}${d.type !== d.requestedType ? ` (asked ${d.requestedType}: no full backup existed)` : ''} backup ${d.backupId}, ${formatBytes(d.sizeBytes)} of data, ${formatBytes(d.storedBytes)} stored, ${((d.finishedAt.getTime() - d.startedAt.getTime()) / 1000).toFixed(1)} s${d.method === 'logical' ? ', a snapshot (no log)' : `, ${d.walSegments} WAL segment(s)`}`);
    }
    for (const s of result.skipped) ctx.io.out(`${s.database}: skipped: ${s.reason}`);
    for (const e of result.expired) {
      if (e.expired.length) ctx.io.out(`${e.database}: expired ${e.expired.length} backup(s), ${e.walRemoved} WAL segment(s)`);
      ctx.io.out(`${e.database}: ${e.window.description}`);
    }
  }
  return EXIT.ok;
});

const list: BackupAction = (ctx, { repositories }) => withRepositoryOnly(ctx, async (dm) => {
  const backups = await dm.backups.listBackups(repositories);
  const windows = await dm.backups.window(undefined, repositories);
  const sets = await dm.backups.listBackupSets(repositories);
  if (ctx.json) ctx.io.out(toJson({ sets, backups, windows }));
  else {
    for (const set of sets) {
      ctx.io.out(`set ${set.setId}  ${set.startedAt} .. ${set.finishedAt}  ${set.members.length} member(s)`);
      for (const m of set.members) ctx.io.out(`  ${m.database}  ${m.engine}  ${m.type}  ${m.backupId}${m.consistentAt ? `  consistent at ${m.consistentAt}` : ''}`);
    }
    if (sets.length > 0) ctx.io.out(`${sets.length} set(s); restore one with datakeep restore SET_ID [--target-time T] (each member into --to DIR/<database>)\n`);
    for (const b of backups) ctx.io.out(`${b.backupId}  ${b.database}  ${b.type.padEnd(12)} ${b.finishedAt}  ${formatBytes(b.sizeBytes).padStart(10)} data  ${formatBytes(b.storedBytes).padStart(10)} stored${b.parent ? `  parent ${b.parent}` : ''}`);
    ctx.io.out(`${backups.length} backup(s)`);
    for (const w of windows) ctx.io.out(formatWindow(w));
  }
  return EXIT.ok;
});

const verify: BackupAction = (ctx, { args, repositories }) => withRepositoryOnly(ctx, async (dm) => {
  const report = await dm.backups.verifyBackup(args[0]!, repositories);
  if (ctx.json) ctx.io.out(toJson(report));
  else {
    for (const p of report.problems) ctx.io.out(`  ${p.kind}: ${p.path}${p.chunk ? ` chunk ${p.chunk}` : ''}: ${p.message}`);
    ctx.io.out(report.ok
      ? `ok: ${report.chunksChecked} chunks, ${formatBytes(report.bytesChecked)} re-read and re-hashed; ${report.walSegmentsAfter} WAL segment(s) after the backup authenticated${report.walEndsAt ? `, up to ${report.walEndsAt}` : ''}`
      : `CORRUPT: ${report.problems.length} problem(s)`);
  }
  return report.ok ? EXIT.ok : EXIT.failed;
});

const drill: BackupAction = (ctx, { flags, args, repositories }) => {
  if (flags.check !== undefined && flags.check.trim() === '') throw new UsageError('--check', 'is empty; give a query whose first column is true when the restored data is right, e.g. \'SELECT count(*) > 0 FROM orders\'');
  return withManager(ctx, async (dm) => {
    const reports = await dm.backups.drill({ ...repositories, database: args[0] ?? flags.database ?? ctx.db, checks: flags.check === undefined ? undefined : { sql: flags.check }, target: flags.target });
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
};

const expire: BackupAction = (ctx, { flags, config, repositories }) => withManager(ctx, async (dm) => {
  const { resolveBackupConfig } = await import('../backup/backup-config.js');
  const out = await dm.backups.expireBackups({ ...repositories, dryRun: flags.dryRun, retention: resolveBackupConfig(config).retention });
  if (ctx.json) ctx.io.out(toJson(out));
  else {
    for (const e of out) {
      ctx.io.out(`${e.database}: ${e.dryRun ? 'would expire' : 'expired'} ${e.expired.length ? e.expired.join(', ') : 'nothing'}; keeping ${e.kept.map((k) => `${k.backupId} (${k.reasons.join(', ')})`).join('; ')}`);
      ctx.io.out(`${e.database}: ${e.window.description}`);
    }
  }
  return EXIT.ok;
});

const prune: BackupAction = (ctx, { flags, repositories }) => withManager(ctx, async (dm) => {
  const out = await dm.backups.prune({ ...repositories, dryRun: flags.dryRun });
  if (ctx.json) ctx.io.out(toJson(out));
  else for (const p of out) ctx.io.out(`${p.repository}: ${p.dryRun ? 'would remove' : 'removed'} ${p.chunksRemoved} chunk(s), ${formatBytes(p.bytesReclaimed)}`);
  return EXIT.ok;
});

function formatWindow(w: RecoverabilityWindow): string {
  if (!w.from) return `${w.database}: no backup to restore from`;
  if (!w.to && w.snapshots?.length) return `${w.database}: logical backups only, each restorable to its snapshot instant: ${w.snapshots.map((s) => `${s.time} (${s.backupId})`).join(', ')}`;
  const to = w.to ? `${w.to.time ?? '(no transaction after the oldest backup yet)'} (archived WAL to ${w.to.lsn}, ${w.to.segment})` : '(no archived WAL)';
  return `${w.database}: recoverable on timeline ${w.timeline} from ${w.from.time} (backup ${w.from.backupId}) to ${to}`;
}
