import { parseArgs } from 'node:util';
import { DatakeepError, UsageError } from '../errors/index.js';
import { processIo, toJson, type CliIo } from './cli-io.js';
import { configCheckCommand, healthCommand, queryCommand, startCommand, type CommandContext } from './commands.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { migrateCommand, type MigrateFlags } from './migrate-command.js';
import { backupCommand, restoreCommand, type BackupFlags } from './backup-command.js';
import { txCommand, type TxFlags } from './tx-command.js';

const HELP = `datakeep: keeps an application's data safe across PostgreSQL, MongoDB, Redis and MariaDB

Usage: datakeep <command> [options]

Commands:
  start                 run the main job on the configured databases (embedded PGlite when none)
  health                probe every configured database
  query "<sql>"         run one statement on the default SQL database (or --db ID) and print the rows
  config check          validate the configuration without connecting
  migrate up            apply pending migrations (--dry-run prints them), one line per migration
  migrate down --to V   revert every applied migration newer than V, newest first
  migrate status|plan|validate
                        where each database stands; what would run (SQL and warnings); checksums and order
  migrate create NAME   write a timestamped migration file (--format sql|ts)
  migrate baseline V    mark an existing database as migrated up to V
  migrate repair V --applied|--rolled-back
                        resolve a failed or interrupted migration (audited; --dry-run)
  migrate locks [--release]
                        show (or remove a stale lease of) each database's migration lock
  backup create [--type T] [--dest DIR]
                        back up every database with a backup driver, then apply retention (progress on stderr)
  backup drill [DB] [--check SQL]
                        restore the newest backup and a random point of the window into scratch directories,
                        start, check (row counts, your SQL), record the result, remove (exit 1 when one fails)
  backup list|verify ID|window [DB]|expire|prune
                        completed backups and the recoverability window; re-read and re-hash one (and its WAL);
                        first and last recoverable instant; apply retention; reclaim chunks (--dry-run)
  restore [ID] [--to DIR] [--target-time T [--time-zone Z]|--target-lsn L|--target-name N] [--port P | --start-port P]
                        assemble a data directory for point-in-time recovery (never over a running cluster); T is
                        ISO 8601 with Z or an offset, or '2026-11-28 14:05:00+00'; --start-port starts it and waits
                        for the promotion; --target-timeline N|latest, --archive-to DIR, --keep-failed
                        (these read only the repository: they work while the database is down)
  wal push %p | wal get %f %p | wal check
                        archive_command / restore_command / prove the archive has no gap (--repo DIR)
  tx list               unfinished distributed transactions and prepared branches (exit 1 when any is in doubt)
  tx resolve ID --commit|--rollback
                        finish an in-doubt distributed transaction by hand (audited; --dry-run)

Options:
  --config FILE         configuration file (default ./datakeep.config.json, or $DATAKEEP_CONFIG)
  --db ID               the database to address (see "datakeep config check" for ids)
  --json                machine-readable output
  --dir DIR             migrations directory (default: "migrations.directory" in the config, else ./migrations)
  --dry-run             say what would happen; change nothing
  --passphrase-file F   the backup repository's passphrase (else backups.passphraseFile, $DATAKEEP_REPO_PASSPHRASE(_FILE))
  --allow-out-of-order  apply pending migrations older than the newest applied one
  -h, --help            this help

Exit codes: 0 ok; 1 the command failed (unhealthy database, rejected statement); 2 bad usage or configuration;
3 a database could not be reached. Errors go to stderr (every line of a multi-line error, indented).`;

/** Runs the CLI with `argv` (without node and script) and returns the exit code. Never calls process.exit. */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  // PostgreSQL runs `wal push|get` once per segment: it has its own small parser and opens only the repository.
  if (argv[0] === 'wal') {
    const { runWalCommand } = await import('../engines/postgres/backup/wal-command.js');
    return runWalCommand(argv.slice(1), { stdout: (t: string) => io.out(t.replace(/\n$/, '')), stderr: (t: string) => io.err(t.replace(/\n$/, '')) });
  }
  let ctx: CommandContext;
  let command: string[];
  let migrateFlags: MigrateFlags;
  let txFlags: TxFlags;
  let backupFlags: BackupFlags;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        db: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        to: { type: 'string' },
        dir: { type: 'string' },
        format: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        'allow-out-of-order': { type: 'boolean', default: false },
        applied: { type: 'boolean', default: false },
        'rolled-back': { type: 'boolean', default: false },
        release: { type: 'boolean', default: false },
        commit: { type: 'boolean', default: false },
        type: { type: 'string' },
        dest: { type: 'string' },
        'target-time': { type: 'string' },
        'target-lsn': { type: 'string' },
        'target-name': { type: 'string' },
        'start-port': { type: 'string' },
        port: { type: 'string' },
        'time-zone': { type: 'string' },
        'target-timeline': { type: 'string' },
        'passphrase-file': { type: 'string' },
        'archive-to': { type: 'string' },
        'keep-failed': { type: 'boolean', default: false },
        check: { type: 'string' },
        database: { type: 'string' },
        rollback: { type: 'boolean', default: false },
      },
    });
    if (values.help || positionals.length === 0 || positionals[0] === 'help') {
      io.out(HELP);
      return positionals.length === 0 && !values.help ? EXIT.usage : EXIT.ok;
    }
    command = positionals;
    ctx = { io, configFile: values.config, json: values.json ?? false, db: values.db, positionals: positionals.slice(1) };
    backupFlags = {
      type: values.type, dest: values.dest, dryRun: values['dry-run'] ?? false, targetTime: values['target-time'], targetLsn: values['target-lsn'],
      targetName: values['target-name'], to: values.to, startPort: values['start-port'], database: values.database,
      port: values.port, timeZone: values['time-zone'], targetTimeline: values['target-timeline'], passphraseFile: values['passphrase-file'],
      archiveTo: values['archive-to'], keepFailed: values['keep-failed'] ?? false, check: values.check,
    };
    migrateFlags = {
      to: values.to, dir: values.dir, format: values.format, dryRun: values['dry-run'] ?? false, allowOutOfOrder: values['allow-out-of-order'] ?? false,
      applied: values.applied ?? false, rolledBack: values['rolled-back'] ?? false, release: values.release ?? false,
    };
    txFlags = { commit: values.commit ?? false, rollback: values.rollback ?? false, dryRun: values['dry-run'] ?? false };
  } catch (error) {
    io.err(`datakeep: ${(error as Error).message} (see datakeep --help)`);
    return EXIT.usage;
  }
  try {
    switch (command[0]) {
      case 'start':
        return await startCommand(ctx);
      case 'health':
        return await healthCommand(ctx);
      case 'query':
        return await queryCommand(ctx);
      case 'backup':
        return await backupCommand(ctx, backupFlags);
      case 'restore':
        return await restoreCommand(ctx, backupFlags);
      case 'migrate':
        return await migrateCommand(ctx, migrateFlags);
      case 'tx':
        return await txCommand(ctx, txFlags);
      case 'config':
        if (command[1] === 'check') return await configCheckCommand({ ...ctx, positionals: ctx.positionals.slice(1) });
        throw new UsageError('config', `unknown subcommand "${command[1] ?? ''}"; use: datakeep config check`);
      default:
        throw new UsageError('<command>', `unknown command "${command[0]}"; run datakeep --help for the list`);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (ctx.json && error instanceof DatakeepError) io.out(toJson({ error: error.toJSON() }));
    // Every line: a multi-line error carries the server's FATAL line, the log's path or the cleanup it did.
    io.err(`datakeep: ${message.split('\n').join('\n  ')}`);
    return exitCodeFor(error);
  }
}
