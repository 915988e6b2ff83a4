import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { MariadbBackupError } from './mariadb-backup-error.js';

/** The last bytes of a tool's stderr kept for the error message (its log can be long; the end says why it failed). */
const STDERR_TAIL = 4000;

export interface ToolRun {
  readonly child: ChildProcess;
  /** Resolves when the tool exited 0; rejects with a MariadbBackupError carrying the end of its stderr otherwise. */
  readonly done: Promise<void>;
  readonly stdout: Readable;
  readonly stdin: Writable;
  /** Ends the tool (SIGTERM, then SIGKILL after 5 s) if it still runs. */
  kill(): void;
}

/**
 * Starts one of the MariaDB tools (mariadb-backup, mbstream, mariadb-binlog, mariadb). Every run has a time limit:
 * a tool that hangs (a server that stopped answering) ends with a named error instead of holding the backup forever.
 */
export function startTool(binary: string, args: readonly string[], options: { what: string; timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string; stdin?: 'pipe' | 'ignore'; signal?: AbortSignal }): ToolRun {
  const child = spawn(binary, [...args], { stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_TAIL);
  });
  let timedOut = false;
  const kill = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, 5000).unref();
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, options.timeoutMs);
  timer.unref();
  const onAbort = () => kill();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer);
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      reject(new MariadbBackupError('backup-failed', missing
        ? `${options.what}: ${binary} is not installed (Debian: apt-get install ${binary === 'mariadb-backup' || binary === 'mbstream' ? 'mariadb-backup' : 'mariadb-client'})`
        : `${options.what}: could not start ${binary}: ${error.message}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (code === 0) resolve();
      else if (timedOut) reject(new MariadbBackupError('backup-failed', `${options.what}: ${binary} did not finish within ${Math.round(options.timeoutMs / 1000)} s and was stopped; ${lastLines(stderr)}`));
      else reject(new MariadbBackupError('backup-failed', `${options.what}: ${binary} exited with ${code ?? signal}: ${lastLines(stderr)}`));
    });
  });
  // A rejection nobody awaits yet (the caller is still piping) must not end the process.
  done.catch(() => undefined);
  return { child, done, stdout: child.stdout!, stdin: child.stdin!, kill };
}

/** Runs a tool to its end and returns its stdout (for small outputs only). */
export async function runTool(binary: string, args: readonly string[], options: { what: string; timeoutMs: number; env?: NodeJS.ProcessEnv; signal?: AbortSignal }): Promise<string> {
  const run = startTool(binary, args, options);
  let out = '';
  run.stdout.setEncoding('utf8');
  run.stdout.on('data', (text: string) => {
    out += text;
  });
  await run.done;
  return out;
}

function lastLines(stderr: string): string {
  const lines = stderr.trim().split('\n').filter((l) => l.trim() !== '');
  return lines.slice(-6).join(' | ') || '(no output)';
}
