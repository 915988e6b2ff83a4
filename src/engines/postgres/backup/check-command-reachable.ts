import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { PostgresBackupError } from './postgres-backup-error.js';

/**
 * Checks that `osUser` (the server's OS user, usually postgres) can read every file a command line names by absolute
 * path (the node binary, a loader, a script), before the command is handed to PostgreSQL as archive_command or
 * restore_command: the server runs it as that user, and a file it cannot read (a checkout under /root, or in a
 * mktemp -d directory) makes every run fail with only a line in the server log, or a recovery that waits forever.
 *
 * Checks only when running as root (with runuser); otherwise resolves without checking, since this process cannot
 * act as another user. Arguments that are not absolute paths, or name nothing, are skipped. Throws
 * PostgresBackupError('backup-failed') naming the first unreadable path and the directory that blocks it.
 */
export async function checkCommandReachable(argv: readonly string[], osUser: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const probe = await runAs(osUser, ['true']);
  if (probe === 'no-runuser') return;
  if (probe !== 'ok') {
    throw new PostgresBackupError('backup-failed', `cannot check what the OS user "${osUser}" can read: runuser -u ${osUser} failed (${probe}); is "${osUser}" the user the server runs as?`);
  }
  for (const path of argv) {
    if (!isAbsolute(path) || !existsSync(path)) continue;
    if ((await runAs(osUser, ['test', '-r', path])) === 'ok') continue;
    const blocker = await blockingDirectory(osUser, path);
    const where = blocker === undefined
      ? `the file itself does not let ${osUser} read it (${describe(path)})`
      : `${blocker} (${describe(blocker)}) does not let ${osUser} in`;
    throw new PostgresBackupError('backup-failed',
      `the OS user ${osUser}, as whom PostgreSQL runs archive_command and restore_command, cannot read ${path}: ${where}; ` +
      `install datakeep where that user can read it (e.g. npm install -g datakeep), or move the checkout to a directory it can enter`,
      { items: [path] });
  }
}

/** The outermost directory on the way to `path` that `osUser` cannot traverse (the first one path resolution stops at). */
async function blockingDirectory(osUser: string, path: string): Promise<string | undefined> {
  const chain: string[] = [];
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    chain.unshift(dir);
    if (dir === dirname(dir)) break;
  }
  for (const dir of chain) {
    if ((await runAs(osUser, ['test', '-x', dir])) !== 'ok') return dir;
  }
  return undefined;
}

function describe(path: string): string {
  const info = statSync(path);
  return `mode ${(info.mode & 0o7777).toString(8).padStart(4, '0')}, owner ${userName(info.uid)}`;
}

function userName(uid: number): string {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[2] === String(uid));
    if (line) return line.split(':')[0]!;
  } catch {
    // Fall back to the number.
  }
  return `uid ${uid}`;
}

/** 'ok', 'no-runuser' when the tool is missing, else what went wrong (a failed test is just a non-zero exit). */
function runAs(osUser: string, command: string[]): Promise<string> {
  return new Promise((resolve) => {
    // cwd '/': the user may not be able to enter this process's working directory either.
    execFile('runuser', ['-u', osUser, '--', ...command], { cwd: '/', timeout: 10_000 }, (error, _stdout, stderr) => {
      if (!error) resolve('ok');
      else if ((error as NodeJS.ErrnoException).code === 'ENOENT') resolve('no-runuser');
      else resolve(String(stderr).trim() || error.message);
    });
  });
}
