import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ReplicationError } from '../../../errors/replication-error.js';

/** Server binaries of PostgreSQL 15 as Debian installs them; DATAKEEP_PG_BIN overrides. */
export function pgBinary(name: string): string {
  const dir = process.env.DATAKEEP_PG_BIN ?? '/usr/lib/postgresql/15/bin';
  const path = `${dir}/${name}`;
  return existsSync(path) ? path : name;
}

export interface PgToolOptions {
  readonly node: string;
  readonly step: string;
  readonly timeoutMs: number;
  /** The database password, handed over in PGPASSWORD: never in argv, where `ps` would show it. */
  readonly password?: string | undefined;
  /** Called with each chunk of stderr as it arrives (pg_basebackup's progress). */
  readonly onStderr?: (chunk: string) => void;
  /** Exit codes that are not failures (pg_ctl status answers 3 for "not running"). */
  readonly okCodes?: readonly number[];
}

export interface PgToolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a PostgreSQL tool as the postgres OS user (runuser when this process is root, since the server and its files
 * refuse root), from `/` (that user may not enter the caller's directory), killed at `timeoutMs`. A non-zero exit is a
 * ReplicationError naming the node, the step and the tool's own message.
 */
export function runPgTool(binary: string, args: readonly string[], options: PgToolOptions): Promise<PgToolResult> {
  const path = pgBinary(binary);
  const asRoot = process.getuid?.() === 0;
  const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, [...args]];
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
  if (options.password !== undefined) env.PGPASSWORD = options.password;
  else delete env.PGPASSWORD;
  return new Promise((resolve, reject) => {
    // pg_ctl start redirects the postmaster's output to its log file (-l), so no pipe outlives the tool and 'close'
    // (all output read) comes.
    // Its own process group, so that a timeout kills the tool under runuser too (pg_ctl's postmaster calls setsid and
    // is not in it).
    const child = spawn(command, argv, { cwd: '/', env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      stderr += text;
      if (stderr.length > 1_000_000) stderr = stderr.slice(-100_000);
      options.onStderr?.(text);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new ReplicationError('failed', `${options.node}: ${options.step}: cannot run ${binary}: ${error.message}`, { node: options.node, step: options.step, cause: error }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new ReplicationError('timeout', `${options.node}: ${options.step}: ${binary} did not finish within ${options.timeoutMs} ms`, { node: options.node, step: options.step }));
        return;
      }
      const exit = code ?? -1;
      if (exit === 0 || options.okCodes?.includes(exit)) {
        resolve({ code: exit, stdout, stderr });
        return;
      }
      const why = (stderr.trim() || stdout.trim() || `exit ${signal ?? exit}`).split('\n').slice(-8).join('\n');
      reject(new ReplicationError('failed', `${options.node}: ${options.step}: ${binary} failed: ${why}`, { node: options.node, step: options.step }));
    });
  });
}
