import { shellQuote } from '../../../util/shell-quote.js';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { PostgresBackupError } from './postgres-backup-error.js';

const execFileAsync = promisify(execFile);

export interface StartRestoredClusterOptions {
  dataDirectory: string;
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Unix socket directory; default: the data directory (the restored configuration's may not exist here). */
  socketDirectory?: string;
  /** Default: `<dataDirectory>/datakeep-restore.log`. */
  logFile?: string;
  /** pg_ctl to use; default: the restored server's major version under /usr/lib/postgresql, else PATH. */
  pgCtl?: string;
  /** OS user to run the server as when this process is root (PostgreSQL refuses root); default postgres. */
  osUser?: string;
  /** Database user to connect as while waiting; default postgres. */
  user?: string;
  password?: string;
  /** Bound on recovery (replay of every WAL segment up to the target); default 10 minutes. */
  timeoutMs?: number;
}

/**
 * Starts a restored data directory with pg_ctl and waits until recovery is over: the server has reached its target
 * and promoted (`pg_is_in_recovery()` is false), or, without a target, replayed the whole archive and promoted. A
 * server that stops instead (target never reached, WAL missing) is reported with the end of its log.
 */
export async function startRestoredCluster(options: StartRestoredClusterOptions): Promise<void> {
  const host = options.host ?? '127.0.0.1';
  const logFile = options.logFile ?? join(options.dataDirectory, 'datakeep-restore.log');
  const timeoutMs = options.timeoutMs ?? 600_000;
  const pgCtl = options.pgCtl ?? defaultPgCtl(options.dataDirectory);
  // pg_ctl hands -o to a shell: a directory with a space or a quote must arrive as one word.
  const shellWord = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  const serverOptions = `-p ${options.port} -k ${shellWord(options.socketDirectory ?? options.dataDirectory)} -c listen_addresses=${shellWord(host)}`;
  // -w returns once the server accepts (read-only) connections, i.e. once it is consistent, or fails when it exits.
  const args = ['start', '-w', '-t', String(Math.ceil(timeoutMs / 1000)), '-D', options.dataDirectory, '-l', logFile, '-o', serverOptions];
  const asRoot = process.getuid?.() === 0;
  const [command, argv] = asRoot ? ['runuser', ['-u', options.osUser ?? 'postgres', '--', pgCtl, ...args]] : [pgCtl, args];
  try {
    await execFileAsync(command, argv, { cwd: options.dataDirectory, timeout: timeoutMs + 10_000 });
  } catch (error) {
    throw new PostgresBackupError('recovery-failed', `pg_ctl start failed for ${options.dataDirectory}: ${((error as { stderr?: string }).stderr ?? (error as Error).message).trim()}\n${tail(logFile)}`, { cause: error });
  }
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const client = new pg.Client({ host, port: options.port, user: options.user ?? 'postgres', password: options.password, database: 'postgres', connectionTimeoutMillis: 2_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const rows = (await client.query<{ recovering: boolean }>('SELECT pg_is_in_recovery() AS recovering')).rows;
      if (rows[0]?.recovering === false) return;
      last = 'still in recovery';
    } catch (error) {
      last = error;
      if (!serverAlive(options.dataDirectory)) {
        throw new PostgresBackupError('recovery-failed', `the restored server in ${options.dataDirectory} stopped during recovery (target not reached, or WAL missing from the archive):\n${tail(logFile)}`, { cause: error });
      }
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new PostgresBackupError('recovery-failed', `the restored server in ${options.dataDirectory} was still not promoted after ${timeoutMs} ms (${String(last)}):\n${tail(logFile)}`);
}

/**
 * The shell command that starts a restored data directory as printed to users: pg_ctl of the right major version,
 * as the server's OS user when run by root. The port and the rest of recovery are already in its configuration.
 */
export function startCommandFor(dataDirectory: string, osUser = 'postgres'): string {
  const pgCtl = defaultPgCtl(dataDirectory);
  const command = `${shellQuote(pgCtl)} -D ${shellQuote(dataDirectory)} -l ${shellQuote(join(dataDirectory, 'datakeep-restore.log'))} start`;
  return process.getuid?.() === 0 ? `runuser -u ${osUser} -- ${command}` : command;
}

/** Stops a server running from `dataDirectory` (immediate: a restore that failed has nothing worth a checkpoint). */
export async function stopRestoredCluster(dataDirectory: string, osUser = 'postgres'): Promise<void> {
  if (!serverAlive(dataDirectory)) return;
  const pgCtl = defaultPgCtl(dataDirectory);
  const args = ['stop', '-D', dataDirectory, '-m', 'immediate', '-w', '-t', '30'];
  const [command, argv] = process.getuid?.() === 0 ? ['runuser', ['-u', osUser, '--', pgCtl, ...args]] : [pgCtl, args];
  try {
    await execFileAsync(command, argv, { cwd: '/', timeout: 40_000 });
  } catch {
    try {
      const pid = Number(readFileSync(join(dataDirectory, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
      if (pid > 0) process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

function serverAlive(dataDirectory: string): boolean {
  try {
    const pid = Number(readFileSync(join(dataDirectory, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function defaultPgCtl(dataDirectory: string): string {
  try {
    const major = readFileSync(join(dataDirectory, 'PG_VERSION'), 'utf8').trim();
    const path = `/usr/lib/postgresql/${major}/bin/pg_ctl`;
    if (existsSync(path)) return path;
  } catch {
    // Fall back to PATH.
  }
  return 'pg_ctl';
}

function tail(file: string): string {
  try {
    return `--- server log ---\n${readFileSync(file, 'utf8').split('\n').slice(-25).join('\n')}`;
  } catch {
    return '(no server log)';
  }
}
