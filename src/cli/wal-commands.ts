import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { DatakeepError, RepositoryError, UsageError } from '../errors/index.js';
import { WAL_EXIT } from '../engines/postgres/backup/wal-exit-codes.js';
import { DEFAULT_WAL_PREFETCH, MAX_WAL_PREFETCH, writeSpoolError } from '../engines/postgres/backup/wal-prefetch-spool.js';
import type { Repository } from '../repository/repository-types.js';
import { assertOwnerRuns } from './assert-owner-runs.js';
import { toJson } from './cli-io.js';
import { runs, type CliRuntime, type CommandContext } from './command-context.js';
import { checkDirectoryArgument } from './directory-argument.js';
import { ParseStop, setUsageExitCode } from './parse-failure.js';

interface WalFlags {
  repo?: string;
  passphraseFile?: string;
  acceptNewTimeline?: boolean;
  from?: string;
  to?: string;
  timeline?: string;
  namesOnly?: boolean;
  host?: string;
  port?: string;
  user?: string;
  slot?: string;
  spool?: string;
  interval?: string;
  prefetch?: string;
  queue?: string;
}

type WalAction = (ctx: CommandContext, flags: WalFlags, args: readonly string[]) => Promise<number>;

const REPOSITORY = 'the repository directory (DESTINATION/<database id>)';

/**
 * `datakeep wal push|get|check|stream`: what PostgreSQL runs once per WAL segment (archive_command, restore_command).
 * They open only the repository (path and passphrase), never the configuration or its state store, and load the
 * code of the one subcommand they run. Their exit codes are PostgreSQL's (WAL_EXIT): a failing `wal get` exits 255,
 * never 1, which would read as "not in the archive" and end recovery early.
 */
export function registerWalCommands(program: Command, runtime: CliRuntime): void {
  const wal = program.command('wal')
    .description('the WAL archive, for archive_command and restore_command')
    // They read no configuration: --config and --db would only mislead.
    .configureHelp({ showGlobalOptions: false })
    .addHelpText('after', `
Exit codes, as PostgreSQL reads them: 0 ok; 1 a failure, or for get: not in the
archive (recovery ends there), for check: a gap or damage; 2 bad usage; 255 any
other failure of get, so that recovery stops instead of promoting early.`);
  const sub = (name: string, description: string, failureCode: number, action: WalAction, hidden = false): Command => {
    const command = wal.command(name, { hidden }).description(description)
      .option('--repo <dir>', `${REPOSITORY} (or $DATAKEEP_REPO)`)
      .option('--passphrase-file <file>', "the repository's passphrase (or $DATAKEEP_REPO_PASSPHRASE / $DATAKEEP_REPO_PASSPHRASE_FILE)");
    const usageCode = name === 'get' ? WAL_EXIT.getError : WAL_EXIT.usage;
    setUsageExitCode(command, usageCode);
    command.action(runs(runtime, async (ctx, c) => {
      const ignored = ctx.configFile !== undefined ? '--config' : ctx.db !== undefined ? '--db' : undefined;
      if (ignored) throw new ParseStop(usageCode, new UsageError(ignored, `wal ${name} reads no configuration; give the repository with --repo and its passphrase with --passphrase-file`));
      try {
        return await action(ctx, c.opts<WalFlags>(), c.args);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (ctx.json && error instanceof DatakeepError) ctx.io.out(toJson({ error: error.toJSON() }));
        ctx.io.err(`datakeep wal ${name}${error instanceof DatakeepError ? ` [${error.code}]` : ''}: ${message}`);
        return failureCode;
      }
    }));
    return command;
  };

  sub('push', "archive one segment: archive_command = 'datakeep wal push %p --repo DIR --passphrase-file F'", WAL_EXIT.failed, push)
    .argument('<path>', 'the segment (%p)')
    .option('--accept-new-timeline', 'run once by hand: accept a .history file after a failover to a replica that was behind');
  sub('get', "fetch one segment: restore_command = 'datakeep wal get %f \"%p\" --repo DIR' (exit 1: not in the archive; 255: any other failure)", WAL_EXIT.getError, get)
    .argument('<name>', 'the segment or history file name (%f)')
    .argument('<dest>', 'where to write it (%p)')
    .option('--spool <dir>', 'prefetch: after serving a segment, keep the next ones in this directory (a restore uses DATADIR/datakeep_wal_prefetch; restore_command moves them from there)')
    .option('--prefetch <n>', `with --spool: how many segments ahead (default ${DEFAULT_WAL_PREFETCH}, at most ${MAX_WAL_PREFETCH}; 0: off)`);
  // Started by `wal get --spool`, detached: fills the spool, then exits (idle, recovery over, or a repository error).
  sub('prefetch', 'internal: the background prefetcher of wal get --spool', WAL_EXIT.failed, prefetch, true)
    .requiredOption('--spool <dir>', 'the spool')
    .requiredOption('--queue <n>', 'segments ahead');
  sub('check', 'prove the archive has no gap: read and authenticate every segment (exit 1 on a gap or damage; --json prints the report)', WAL_EXIT.usage, check)
    .option('--from <segment|lsn>', 'first segment to check (default: the oldest archived)')
    .option('--to <segment|lsn>', 'last segment to check (default: the newest archived)')
    .option('--timeline <n>', 'the timeline to follow (default: the newest)')
    .option('--names-only', 'check that the names are there, without reading them');
  sub('stream', 'stream WAL continuously with pg_receivewal beside archive_command (run as the repository\'s owner; stop with SIGTERM)', WAL_EXIT.failed, stream)
    .option('--host <host>', 'the server (default: $PGHOST, else 127.0.0.1)')
    .option('--port <port>', 'its port (default: $PGPORT, else 5432)')
    .option('--user <user>', 'a replication user (default: $PGUSER, else postgres; the password from $PGPASSWORD)')
    .option('--slot <slot>', 'a replication slot, so the server keeps WAL the stream has not received')
    .option('--spool <dir>', 'where pg_receivewal writes before each snapshot (default: .datakeep-wal-spool-<repo> beside the repository)')
    .option('--interval <ms>', 'how often the segment being written is stored (default 1000, at least 100)');
}

/** The repository of `--repo` (or $DATAKEEP_REPO) with the passphrase: opened alone, without any configuration. */
async function openWalRepository(ctx: CommandContext, flags: WalFlags): Promise<Repository & { close(): Promise<void> }> {
  const { openRepositoryForWal } = await import('../engines/postgres/backup/open-repository-for-wal.js');
  const path = flags.repo ?? ctx.env.DATAKEEP_REPO;
  if (path) checkDirectoryArgument('--repo', path, REPOSITORY);
  try {
    return await openRepositoryForWal({ repositoryPath: flags.repo, passphraseFile: flags.passphraseFile }, ctx.env);
  } catch (error) {
    if (!(error instanceof RepositoryError && error.reason === 'not-a-repository')) throw error;
    throw new UsageError('--repo', `"${path}" is not a datakeep repository (no config or key files); check the path. "datakeep backup create --dest DESTINATION" creates one repository per database, as DESTINATION/<database id>; until the first backup, PostgreSQL keeps each segment and retries`, { cause: error });
  }
}

const push: WalAction = async (ctx, flags, [path]) => {
  await assertOwnerRuns(flags.repo ?? ctx.env.DATAKEEP_REPO ?? '', 'wal push');
  const repository = await openWalRepository(ctx, flags);
  const { walPush } = await import('../engines/postgres/backup/wal-push.js');
  const outcome = await walPush(repository, path!, { acceptNewTimeline: flags.acceptNewTimeline }).finally(() => repository.close());
  if (outcome === 'already-present') ctx.io.err(`datakeep wal push: ${path} was already archived with the same content`);
  return WAL_EXIT.ok;
};

function prefetchCount(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) > MAX_WAL_PREFETCH) throw new UsageError(flag, `"${text}" is not a number of segments from 0 to ${MAX_WAL_PREFETCH}; 0 turns prefetching off`);
  return Number(text);
}

const get: WalAction = async (ctx, flags, [name, dest]) => {
  if (flags.prefetch !== undefined && flags.spool === undefined) throw new UsageError('--prefetch', 'needs --spool DIR, where the prefetched segments wait');
  const queue = flags.spool === undefined ? 0 : prefetchCount(flags.prefetch ?? String(DEFAULT_WAL_PREFETCH), '--prefetch');
  const repository = await openWalRepository(ctx, flags);
  const { walGetServed } = await import('../engines/postgres/backup/wal-get.js');
  const served = await walGetServed(repository, name!, dest!).finally(() => repository.close());
  // A streamed snapshot is the newest WAL there is: nothing complete follows it to prefetch.
  if (served?.from === 'archive' && queue > 0) {
    const { startWalPrefetch } = await import('../engines/postgres/backup/start-wal-prefetch.js');
    const { datakeepCommandLine } = await import('../util/datakeep-command-line.js');
    // Absolute paths: the prefetcher runs from /, and restore_command's are relative to the data directory.
    const spool = resolve(flags.spool!);
    const repositoryPath = resolve(flags.repo ?? ctx.env.DATAKEEP_REPO!);
    const said = await startWalPrefetch({
      spool, queue, served: { name: name!, content: served.content }, env: ctx.env,
      prefetcherArgv: [...datakeepCommandLine(), 'wal', 'prefetch', '--spool', spool, '--queue', String(queue), '--repo', repositoryPath,
        ...(flags.passphraseFile === undefined ? [] : ['--passphrase-file', resolve(flags.passphraseFile)])],
    });
    if (said) ctx.io.err(`datakeep wal get: ${said}`);
  }
  return served ? WAL_EXIT.ok : WAL_EXIT.notFound;
};

/** Bound on one segment's read by the prefetcher, in seconds: slow storage may need more than the default 60. */
export const PREFETCH_READ_TIMEOUT_ENV = 'DATAKEEP_WAL_PREFETCH_READ_TIMEOUT';

const prefetch: WalAction = async (ctx, flags) => {
  const spool = resolve(flags.spool!);
  let repository: Repository & { close(): Promise<void> };
  let queue: number;
  let readTimeoutMs: number | undefined;
  try {
    queue = prefetchCount(flags.queue!, '--queue');
    const timeout = ctx.env[PREFETCH_READ_TIMEOUT_ENV];
    if (timeout !== undefined) {
      if (!/^\d+$/.test(timeout) || Number(timeout) < 1 || Number(timeout) > 3600) throw new UsageError(PREFETCH_READ_TIMEOUT_ENV, `"${timeout}" is not a number of seconds from 1 to 3600`);
      readTimeoutMs = Number(timeout) * 1000;
    }
    repository = await openWalRepository(ctx, flags);
  } catch (error) {
    // Detached, with no terminal: the next `wal get` prints it into the server's log.
    await writeSpoolError(spool, `the prefetcher could not start: ${(error as Error).message}`);
    throw error;
  }
  const { runWalPrefetcher } = await import('../engines/postgres/backup/wal-prefetcher.js');
  const exit = await runWalPrefetcher({ repository, spool, queue, readTimeoutMs }).finally(() => repository.close());
  // A read that timed out may still hang in the thread pool (storage that never answers): it would keep this detached
  // process alive, and even process.exit waits for the thread pool. Nothing is left to write: end it for sure.
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), 1000).unref();
  return exit === 'failed' ? WAL_EXIT.failed : WAL_EXIT.ok;
};

const check: WalAction = async (ctx, flags) => {
  if (flags.timeline !== undefined && !/^[1-9]\d*$/.test(flags.timeline)) throw new UsageError('--timeline', `"${flags.timeline}" is not a timeline; give a positive number, e.g. 2`);
  const repository = await openWalRepository(ctx, flags);
  const { walCheck } = await import('../engines/postgres/backup/wal-check.js');
  const report = await walCheck(repository, {
    from: flags.from,
    to: flags.to,
    timeline: flags.timeline === undefined ? undefined : Number(flags.timeline),
    authenticate: flags.namesOnly !== true,
  }).finally(() => repository.close());
  if (ctx.json) ctx.io.out(JSON.stringify(report));
  else if (report.timeline === 0) ctx.io.out('the archive holds no WAL segment yet: archive_command has not delivered any (check it, and pg_stat_archiver)');
  else if (report.ok) ctx.io.out(`WAL archive complete on timeline ${report.timeline}: ${report.segmentsChecked} segments from ${report.from ?? '-'} to ${report.to ?? '-'}${flags.namesOnly ? ' (names only)' : ', each read and authenticated'}`);
  else {
    if (report.firstMissing) ctx.io.out(`WAL archive has a gap: first missing segment ${report.firstMissing} (${report.missing.length}${report.missing.length === 100 ? '+' : ''} missing between ${report.from} and ${report.to})`);
    if (report.corrupt.length) ctx.io.out(`WAL archive has damaged segments (they fail authentication): ${report.corrupt.join(', ')}`);
  }
  return report.ok && report.timeline !== 0 ? WAL_EXIT.ok : WAL_EXIT.gap;
};

const stream: WalAction = async (ctx, flags) => {
  const { env } = ctx;
  const repository = await openWalRepository(ctx, flags);
  try {
    const repositoryPath = flags.repo ?? env.DATAKEEP_REPO;
    await assertOwnerRuns(repositoryPath ?? '', 'wal stream');
    const { streamWal } = await import('../engines/postgres/backup/wal-stream.js');
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const port = Number(flags.port ?? env.PGPORT ?? 5432);
    const interval = Number(flags.interval ?? 1000);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError('--port', `"${flags.port}" is not a port`);
    if (!Number.isInteger(interval) || interval < 100) throw new UsageError('--interval', `"${flags.interval}" is not a number of milliseconds >= 100`);
    ctx.io.err(`datakeep wal stream: streaming from ${flags.host ?? '127.0.0.1'}:${port} into ${repositoryPath}; snapshot every ${interval} ms; stop with SIGTERM`);
    await streamWal({
      repository, signal: controller.signal, intervalMs: interval, slot: flags.slot,
      connection: { host: flags.host ?? env.PGHOST ?? '127.0.0.1', port, user: flags.user ?? env.PGUSER ?? 'postgres', password: env.PGPASSWORD },
      spoolDirectory: flags.spool ?? join(repositoryPath ?? '.', '..', `.datakeep-wal-spool-${basename(flags.repo ?? 'repo')}`),
      onEvent: (e) => {
        if (e.kind === 'receiver-exited') ctx.io.err(`datakeep wal stream: pg_receivewal exited (${String(e.code)}): ${e.stderr.trim().split('\n').slice(-2).join(' ')}; retrying`);
      },
    });
    return WAL_EXIT.ok;
  } finally {
    await repository.close();
  }
};
