import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { DatakeepError, UsageError } from '../../../errors/index.js';
import { openRepositoryForWal } from './open-repository-for-wal.js';
import { walCheck } from './wal-check.js';
import { walGet } from './wal-get.js';
import { walPush } from './wal-push.js';

export interface WalCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

/**
 * Exit codes, chosen for PostgreSQL: `restore_command` exiting 1 means "not in the archive" (recovery ends there),
 * while an exit status above 125 makes recovery stop with an error. A `wal get` that fails for any other reason
 * (wrong passphrase, unreadable repository) must never look like the end of the archive, or the server would
 * promote early and silently lose the rest of its history.
 */
export const WAL_EXIT = Object.freeze({ ok: 0, failed: 1, notFound: 1, gap: 1, usage: 2, getError: 255 });

const USAGE = `usage:
  datakeep wal push <path> [--accept-new-timeline]
                                      (archive_command = 'datakeep wal push %p --repo DIR'; the flag, run once by
                                      hand, accepts a .history file after a failover to a replica that was behind)
  datakeep wal get <name> <dest>      (restore_command = 'datakeep wal get %f "%p" --repo DIR')
  datakeep wal stream --host H --port P --user U [--slot S] [--spool DIR] [--interval MS]
                                      (continuous streaming next to archive_command; run as the repository's owner)
  datakeep wal check [--from SEGMENT|LSN] [--to SEGMENT|LSN] [--timeline N] [--names-only] [--json]
options: --repo DIR (or DATAKEEP_REPO), --passphrase-file FILE (or DATAKEEP_REPO_PASSPHRASE / DATAKEEP_REPO_PASSPHRASE_FILE)`;

/**
 * `datakeep wal push|get|check`: what PostgreSQL runs once per WAL segment. Opens only the repository (path and
 * passphrase), never the configuration's state store. Returns the exit code; never throws.
 */
export async function runWalCommand(argv: readonly string[], io: Partial<WalCommandIo> = {}): Promise<number> {
  const out = io.stdout ?? ((text: string) => process.stdout.write(text));
  const err = io.stderr ?? ((text: string) => process.stderr.write(text));
  const env = io.env ?? process.env;
  const [command, ...rest] = argv;
  const failureCode = command === 'get' ? WAL_EXIT.getError : command === 'check' ? WAL_EXIT.usage : WAL_EXIT.failed;
  let parsed;
  try {
    parsed = parseArgs({
      args: [...rest],
      allowPositionals: true,
      options: {
        repo: { type: 'string' },
        'passphrase-file': { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        timeline: { type: 'string' },
        json: { type: 'boolean' },
        'names-only': { type: 'boolean' },
        'accept-new-timeline': { type: 'boolean' },
        host: { type: 'string' },
        port: { type: 'string' },
        user: { type: 'string' },
        slot: { type: 'string' },
        spool: { type: 'string' },
        interval: { type: 'string' },
      },
    });
  } catch (error) {
    err(`datakeep wal: ${(error as Error).message}\n${USAGE}\n`);
    return command === 'get' ? WAL_EXIT.getError : WAL_EXIT.usage;
  }
  const { values, positionals } = parsed;
  const access = { repositoryPath: values.repo, passphraseFile: values['passphrase-file'] };
  try {
    switch (command) {
      case 'push': {
        if (positionals.length !== 1) break;
        await assertOwnerRuns(access.repositoryPath ?? env.DATAKEEP_REPO ?? '', 'wal push');
        const repository = await openRepositoryForWal(access, env);
        const outcome = await walPush(repository, positionals[0]!, { acceptNewTimeline: values['accept-new-timeline'] }).finally(() => repository.close());
        if (outcome === 'already-present') err(`datakeep wal push: ${positionals[0]} was already archived with the same content\n`);
        return WAL_EXIT.ok;
      }
      case 'stream': {
        if (positionals.length !== 0) break;
        const repository = await openRepositoryForWal(access, env);
        try {
          await assertOwnerRuns(access.repositoryPath ?? env.DATAKEEP_REPO ?? '', 'wal stream');
          const { streamWal } = await import('./wal-stream.js');
          const controller = new AbortController();
          const stop = () => controller.abort();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          const port = Number(values.port ?? env.PGPORT ?? 5432);
          const interval = Number(values.interval ?? 1000);
          if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError('--port', `"${values.port}" is not a port`);
          if (!Number.isInteger(interval) || interval < 100) throw new UsageError('--interval', `"${values.interval}" is not a number of milliseconds >= 100`);
          err(`datakeep wal stream: streaming from ${values.host ?? '127.0.0.1'}:${port} into ${access.repositoryPath ?? env.DATAKEEP_REPO}; snapshot every ${interval} ms; stop with SIGTERM\n`);
          await streamWal({
            repository, signal: controller.signal, intervalMs: interval, slot: values.slot,
            connection: { host: values.host ?? env.PGHOST ?? '127.0.0.1', port, user: values.user ?? env.PGUSER ?? 'postgres', password: env.PGPASSWORD },
            spoolDirectory: values.spool ?? join(access.repositoryPath ?? env.DATAKEEP_REPO ?? '.', '..', `.datakeep-wal-spool-${basename(access.repositoryPath ?? 'repo')}`),
            onEvent: (e) => {
              if (e.kind === 'receiver-exited') err(`datakeep wal stream: pg_receivewal exited (${String(e.code)}): ${e.stderr.trim().split('\n').slice(-2).join(' ')}; retrying\n`);
            },
          });
          return WAL_EXIT.ok;
        } finally {
          await repository.close();
        }
      }
      case 'get': {
        if (positionals.length !== 2) break;
        const repository = await openRepositoryForWal(access, env);
        const found = await walGet(repository, positionals[0]!, positionals[1]!).finally(() => repository.close());
        return found ? WAL_EXIT.ok : WAL_EXIT.notFound;
      }
      case 'check': {
        if (positionals.length !== 0) break;
        const repository = await openRepositoryForWal(access, env);
        const report = await walCheck(repository, {
          from: values.from,
          to: values.to,
          timeline: values.timeline === undefined ? undefined : Number.parseInt(values.timeline, 10),
          authenticate: values['names-only'] !== true,
        }).finally(() => repository.close());
        if (report.timeline === 0) {
          if (values.json) out(`${JSON.stringify(report)}\n`);
          else out('the archive holds no WAL segment yet: archive_command has not delivered any (check it, and pg_stat_archiver)\n');
          return WAL_EXIT.gap;
        }
        if (values.json) out(`${JSON.stringify(report)}\n`);
        else if (report.ok) out(`WAL archive complete on timeline ${report.timeline}: ${report.segmentsChecked} segments from ${report.from ?? '-'} to ${report.to ?? '-'}${values['names-only'] ? ' (names only)' : ', each read and authenticated'}\n`);
        else {
          if (report.firstMissing) out(`WAL archive has a gap: first missing segment ${report.firstMissing} (${report.missing.length}${report.missing.length === 100 ? '+' : ''} missing between ${report.from} and ${report.to})\n`);
          if (report.corrupt.length) out(`WAL archive has damaged segments (they fail authentication): ${report.corrupt.join(', ')}\n`);
        }
        return report.ok ? WAL_EXIT.ok : WAL_EXIT.gap;
      }
      default:
        break;
    }
    err(`datakeep wal ${command ?? ''}: wrong arguments\n${USAGE}\n`);
    return command === 'get' ? WAL_EXIT.getError : WAL_EXIT.usage;
  } catch (error) {
    const code = error instanceof DatakeepError ? ` [${error.code}]` : '';
    err(`datakeep wal ${command ?? ''}${code}: ${(error as Error).message}\n`);
    return failureCode;
  }
}


/**
 * The repository's files must stay readable by the server's OS user (restore_command runs as it): a stream run by root
 * would write snapshots only root can read. Refuse at once, saying how to run it.
 */
async function assertOwnerRuns(repositoryPath: string, command: string): Promise<void> {
  if (process.getuid?.() !== 0 || repositoryPath === '') return;
  const owner = await stat(repositoryPath).then((s) => s.uid, () => 0);
  if (owner !== 0) throw new UsageError(command, `run it as the repository's owner (uid ${owner}), e.g. runuser -u postgres -- datakeep ${command} ...; as root the files it writes would be unreadable by restore_command`);
}
