import type { Command } from 'commander';
import { UsageError } from '../errors/index.js';
import type { RestoreProgress, RestoreResult } from '../backup/backup-types.js';
import { backupSettings, repositoryOptions, type RepositoryFlags } from './backup-settings.js';
import { toJson } from './cli-io.js';
import { runs, type CliRuntime, type CommandContext } from './command-context.js';
import { checkDirectoryArgument } from './directory-argument.js';
import { EXIT } from './exit-codes.js';
import { ProgressLine } from './progress-line.js';
import { withRepositoryOnly } from './with-manager.js';

interface RestoreFlags extends RepositoryFlags {
  to?: string;
  targetTime?: string;
  timeZone?: string;
  targetLsn?: string;
  targetName?: string;
  targetTimeline?: number | 'latest';
  targetExclusive?: boolean;
  port?: number;
  startPort?: number;
  archiveTo?: string;
  keepFailed?: boolean;
  database?: string;
  target?: string;
  targetDatabase?: string;
  replace?: boolean;
  tables?: string[];
  jobs?: number;
  walPrefetch?: number;
}

/** A TCP port option: refused while parsing, before anything is read. */
function portOption(flag: string): (text: string) => number {
  return (text) => {
    const port = Number(text);
    if (!/^\d+$/.test(text) || !Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(flag, `"${text}" is not a port; give a number from 1 to 65535`);
    return port;
  };
}

function parseTimeline(text: string): number | 'latest' {
  if (text === 'latest') return text;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError('--target-timeline', `"${text}" is not a timeline; give a positive number, or latest`);
  return Number(text);
}

const EMPTY_DIRECTORY = 'an empty or non-existent directory';

/**
 * `datakeep restore [ID] --to DIR [--target-time T [--time-zone Z] | --target-lsn L | --target-name N] [--start-port P]`.
 * Reads only the repository: it works while the source database is down.
 */
export function registerRestoreCommand(program: Command, runtime: CliRuntime): void {
  repositoryOptions(program.command('restore')
    .description('assemble a data directory for point-in-time recovery from the repository alone (never over a running cluster; works while the database is down)')
    .argument('[id]', 'the backup to start from (default: the newest one that reaches the target)')
    .option('--to <dir>', `where to write the data directory: ${EMPTY_DIRECTORY} (default: DESTINATION/restores/<database>-<time>)`)
    .option('--target-time <time>', "recover to this instant: ISO 8601 with Z or an offset, or '2026-11-28 14:05:00+00'")
    .option('--time-zone <zone>', 'how to read a --target-time without an offset (an IANA name such as Europe/Berlin)')
    .option('--target-lsn <lsn>', 'recover to this WAL position, e.g. 0/5000060')
    .option('--target-name <name>', 'recover to this restore point (pg_create_restore_point)')
    .option('--target-timeline <n>', 'follow this timeline (a number, or latest)', parseTimeline)
    .option('--target-exclusive', 'stop just before the target instead of just after it (MariaDB: at the start of its second)')
    .option('--port <port>', 'the port the restored server will listen on (default: its source\'s)', portOption('--port'))
    .option('--start-port <port>', 'also start the restored server on this port and wait until it has recovered and promoted', portOption('--start-port'))
    .option('--archive-to <dir>', 'once promoted, the restored server archives its WAL into this repository of its own (never the source\'s; default: archiving off)')
    .option('--keep-failed', 'keep what a failed restore wrote, for inspection (default: it is removed)')
    .option('--wal-prefetch <n>', 'PostgreSQL: WAL segments restore_command fetches ahead while the server replays (default: backups.walPrefetch, else 8; at most 64; 0: off)', (v: string) => {
      if (!/^\d+$/.test(v) || Number(v) > 64) throw new UsageError('--wal-prefetch', `"${v}" is not a number of segments from 0 to 64; 0 turns prefetching off`);
      return Number(v);
    })
    .option('--database <id>', 'the database to restore when the destination holds several')
    .option('--target <url>', 'restore into this live server instead of a directory: MongoDB and Redis (mongodb://host:27017, redis://host:6379), a logical PostgreSQL backup (postgres://…/db, created when missing; pglite:DIR); its password never reaches logs or output')
    .option('--target-database <name>', 'with --target: the database to write into (default: the backed-up one\'s name)')
    .option('--replace', 'with --target: overwrite what the restore would write over (collections, keys) instead of refusing')
    .option('--tables <list>', 'a logical backup: only these tables (comma-separated, schema.table or table)', (v: string) => v.split(',').map((t) => t.trim()).filter((t) => t !== ''))
    .option('-j, --jobs <n>', 'a logical backup: parallel restore sessions (default 2)', (v: string) => {
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError('--jobs', `"${v}" is not a positive number of sessions`);
      return Number(v);
    }))
    .action(runs(runtime, (ctx, command) => restore(ctx, command.args[0], command.opts<RestoreFlags>())));
}

async function restore(ctx: CommandContext, backupId: string | undefined, flags: RestoreFlags): Promise<number> {
  const { port, startPort } = flags;
  if (port !== undefined && startPort !== undefined && port !== startPort) throw new UsageError('--port', `${port} differs from --start-port ${startPort}; the server listens on one port: give one of them`);
  if (flags.timeZone !== undefined && flags.targetTime === undefined) throw new UsageError('--time-zone', 'only says how to read --target-time, which is not given');
  if (flags.targetExclusive && flags.targetTime === undefined && flags.targetLsn === undefined && flags.targetName === undefined) throw new UsageError('--target-exclusive', 'applies to a target (--target-time, --target-lsn or --target-name), which is not given');
  const config = await backupSettings(ctx, flags, true);
  if (flags.to !== undefined) checkDirectoryArgument('--to', flags.to, EMPTY_DIRECTORY);
  if (flags.archiveTo !== undefined) checkDirectoryArgument('--archive-to', flags.archiveTo, 'a repository directory');
  if (flags.target === undefined && (flags.targetDatabase !== undefined || flags.replace)) throw new UsageError(flags.replace ? '--replace' : '--target-database', 'only applies with --target (a live server to restore into)');
  const target = flags.target === undefined ? undefined : { url: flags.target, database: flags.targetDatabase, replace: flags.replace ?? false };
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
    const result = await dm.backups.restoreBackup(backupId, {
      destination: config.destination, to: flags.to, target, database: flags.database ?? ctx.db, passphraseFile: flags.passphraseFile ?? config.passphraseFile,
      targetTime: flags.targetTime, timeZone: flags.timeZone, targetLsn: flags.targetLsn, targetName: flags.targetName, targetTimeline: flags.targetTimeline,
      targetInclusive: flags.targetExclusive ? false : undefined,
      port, start: startPort === undefined ? undefined : { port: startPort }, archiveTo: flags.archiveTo, keepFailed: flags.keepFailed ?? false,
      tables: flags.tables, workers: flags.jobs, walPrefetch: flags.walPrefetch,
      fields: { time: '--target-time', lsn: '--target-lsn', name: '--target-name' }, signal: controller.signal,
      onProgress: (p) => progress.update(label(p), p.bytesDone, p.bytesTotal ? p.bytesDone / p.bytesTotal : undefined, p.phase === 'done'),
    }).finally(() => {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
    });
    if (ctx.json) ctx.io.out(toJson(result));
    else {
      if (result.setId) ctx.io.out(`restored backup set ${result.setId}: ${result.members!.length} member(s)${flags.targetTime ? `, each to ${flags.targetTime}` : ''}`);
      for (const member of result.members ?? [result]) printRestored(ctx, member, port);
    }
    return EXIT.ok;
  });
}

function printRestored(ctx: CommandContext, result: RestoreResult, port: number | undefined): void {
  if (result.note) ctx.io.out(`note: ${result.note}`);
  if (result.tables) {
    ctx.io.out(`restored ${result.database} logical backup ${result.backupId} (snapshot ${result.target}) into ${result.to}: ${result.tables.length} table(s)`);
    return;
  }
  ctx.io.out(`restored ${result.database} backup ${result.backupId} into ${result.to}${result.target ? ` to ${result.target}` : ' (replaying all archived WAL)'} on timeline ${result.timeline}; ${result.walSegmentsChecked} WAL segment(s) checked${result.started ? '; started, recovered and promoted' : ''}`);
  for (const line of result.recoverySettings) ctx.io.out(`  ${line.replace(/--passphrase-file \S+/, '--passphrase-file …')}`);
  if (!result.started) {
    const listens = port === undefined ? '; it keeps its source\'s port: pass --port to restore onto another one' : `, and listens on port ${port}`;
    ctx.io.out(`start it with: ${result.startCommand}\n  it ${result.target ? 'recovers to the target' : 'replays all archived WAL'}, promotes${listens}`);
  }
}
