import { loadConfig } from '../config/load-config.js';
import { UsageError } from '../errors/index.js';
import type { BackupConfig } from '../backup/backup-config.js';
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
  to?: string;
  startPort?: string;
  database?: string;
}

const USAGE = 'usage: datakeep backup create [--type full|differential|incremental] [--dest DIR] | list | verify ID | expire [--dry-run] | prune [--dry-run]';

/** The backup settings: the config file's "backups" section, then flags. */
function backupConfig(ctx: CommandContext, flags: BackupFlags): BackupConfig {
  const section = (loadConfig({ file: ctx.configFile }).backups ?? {}) as Partial<BackupConfig>;
  const destination = flags.dest ?? section.destination;
  if (!destination) throw new UsageError('--dest', 'no backup destination; pass --dest DIR or set "backups": {"destination": ...} in the config file');
  return {
    type: 'full', compression: true, encryption: true, retention: { daily: 7, weekly: 4, monthly: 12, yearly: 5 },
    ...section, destination, ...(flags.type ? { type: flags.type as BackupConfig['type'] } : {}),
  };
}

/** `datakeep backup ...`: a thin layer over dm.backups, with a progress line on long runs. */
export async function backupCommand(ctx: CommandContext, flags: BackupFlags): Promise<number> {
  const [sub, arg] = ctx.positionals;
  if (!sub) throw new UsageError('backup', `missing subcommand; ${USAGE}`);
  const config = backupConfig(ctx, flags);
  return withManager(ctx, async (dm) => {
    switch (sub) {
      case 'create': {
        const progress = new ProgressLine((t) => process.stderr.write(t), Boolean(process.stderr.isTTY) && !ctx.json);
        const result = await dm.backups.createBackup(config, {
          onProgress: (db, p) => progress.update(`${db} ${p.phase}`, p.bytesDone, p.filesTotal ? p.filesDone / p.filesTotal : undefined),
        });
        if (ctx.json) ctx.io.out(toJson(result));
        else {
          for (const d of result.databases) {
            ctx.io.out(`${d.database}: ${d.type}${d.type !== d.requestedType ? ` (asked ${d.requestedType}: no full backup existed)` : ''} backup ${d.backupId}, ${formatBytes(d.sizeBytes)} of data, ${formatBytes(d.storedBytes)} stored, ${((d.finishedAt.getTime() - d.startedAt.getTime()) / 1000).toFixed(1)} s, ${d.walSegments} WAL segment(s)`);
          }
          for (const s of result.skipped) ctx.io.out(`${s.database}: skipped: ${s.reason}`);
          for (const e of result.expired) if (e.expired.length) ctx.io.out(`${e.database}: expired ${e.expired.length} backup(s), ${e.walRemoved} WAL segment(s)`);
        }
        return EXIT.ok;
      }
      case 'list': {
        const list = await dm.backups.listBackups({ destination: config.destination });
        if (ctx.json) ctx.io.out(toJson(list));
        else {
          for (const b of list) ctx.io.out(`${b.backupId}  ${b.database}  ${b.type.padEnd(12)} ${b.finishedAt}  ${formatBytes(b.sizeBytes).padStart(10)} data  ${formatBytes(b.storedBytes).padStart(10)} stored${b.parent ? `  parent ${b.parent}` : ''}`);
          ctx.io.out(`${list.length} backup(s)`);
        }
        return EXIT.ok;
      }
      case 'verify': {
        if (!arg) throw new UsageError('ID', 'backup verify needs a backup id (see datakeep backup list)');
        const report = await dm.backups.verifyBackup(arg, { destination: config.destination });
        if (ctx.json) ctx.io.out(toJson(report));
        else {
          for (const p of report.problems) ctx.io.out(`  ${p.kind}: ${p.path}${p.chunk ? ` chunk ${p.chunk}` : ''}: ${p.message}`);
          ctx.io.out(report.ok ? `ok: ${report.chunksChecked} chunks, ${formatBytes(report.bytesChecked)} re-read and re-hashed` : `CORRUPT: ${report.problems.length} problem(s)`);
        }
        return report.ok ? EXIT.ok : EXIT.failed;
      }
      case 'expire': {
        const out = await dm.backups.expireBackups({ destination: config.destination, dryRun: flags.dryRun, retention: (await import('../backup/backup-config.js')).resolveBackupConfig(config).retention });
        if (ctx.json) ctx.io.out(toJson(out));
        else for (const e of out) ctx.io.out(`${e.database}: ${e.dryRun ? 'would expire' : 'expired'} ${e.expired.length ? e.expired.join(', ') : 'nothing'}; keeping ${e.kept.map((k) => `${k.backupId} (${k.reasons.join(', ')})`).join('; ')}`);
        return EXIT.ok;
      }
      case 'prune': {
        const out = await dm.backups.prune({ destination: config.destination, dryRun: flags.dryRun });
        if (ctx.json) ctx.io.out(toJson(out));
        else for (const p of out) ctx.io.out(`${p.repository}: ${p.dryRun ? 'would remove' : 'removed'} ${p.chunksRemoved} chunk(s), ${formatBytes(p.bytesReclaimed)}`);
        return EXIT.ok;
      }
      default:
        throw new UsageError('backup', `unknown subcommand "${sub}"; ${USAGE}`);
    }
  });
}

/** `datakeep restore [ID] --to DIR [--target-time T | --target-lsn L | --target-name N] [--start-port P]`. */
export async function restoreCommand(ctx: CommandContext, flags: BackupFlags): Promise<number> {
  const config = backupConfig(ctx, flags);
  return withManager(ctx, async (dm) => {
    const progress = new ProgressLine((t) => process.stderr.write(t), Boolean(process.stderr.isTTY) && !ctx.json);
    const startPort = flags.startPort === undefined ? undefined : Number(flags.startPort);
    if (startPort !== undefined && (!Number.isInteger(startPort) || startPort < 1 || startPort > 65535)) throw new UsageError('--start-port', `"${flags.startPort}" is not a port`);
    const result = await dm.backups.restoreBackup(ctx.positionals[0], {
      destination: config.destination, to: flags.to, database: flags.database ?? ctx.db,
      targetTime: flags.targetTime, targetLsn: flags.targetLsn, targetName: flags.targetName,
      start: startPort === undefined ? undefined : { port: startPort },
      onProgress: (p) => progress.update(`restore ${p.phase}`, p.bytesDone, p.bytesTotal ? p.bytesDone / p.bytesTotal : undefined, p.phase === 'done'),
    });
    if (ctx.json) ctx.io.out(toJson(result));
    else {
      ctx.io.out(`restored ${result.database} backup ${result.backupId} into ${result.to}${result.started ? ' (started, recovered and promoted)' : ''}`);
      for (const line of result.recoverySettings) ctx.io.out(`  ${line}`);
      if (!result.started) ctx.io.out(`start it with: pg_ctl -D ${result.to} start (as the postgres user); it recovers to the target and promotes`);
    }
    return EXIT.ok;
  });
}
