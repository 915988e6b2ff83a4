import { datakeepCommandLine } from '../../../util/datakeep-command-line.js';
import { shellQuote } from '../../../util/shell-quote.js';

/**
 * The argv of this datakeep as PostgreSQL's OS user runs it from archive_command and restore_command (absolute paths:
 * the server runs them with its own working directory and environment).
 */
export function datakeepForServer(): string[] {
  return datakeepCommandLine();
}

/** Prefetching for restore_command: the spool (inside the restored data directory) and how many segments ahead. */
export interface WalPrefetchSetting {
  readonly spool: string;
  readonly queue: number;
}

/**
 * restore_command: `datakeep wal get %f "%p" --repo REPO [--passphrase-file F]`, quoted for the server's shell.
 * With prefetching, a shell fast path first: a segment already in the spool is moved into place by `mv` (a rename,
 * no node start); otherwise `wal get --spool DIR --prefetch N` fetches it and keeps a prefetcher filling the spool.
 * Only `<spool>/%f` is ever moved, so a spooled file is served only under the name PostgreSQL asked for.
 */
export function walGetCommand(repositoryPath: string, passphraseFile: string | undefined, prefetch?: WalPrefetchSetting): string {
  const command = [...datakeepForServer(), 'wal', 'get', '%f', '%p', '--repo', repositoryPath];
  if (passphraseFile) command.push('--passphrase-file', passphraseFile);
  if (prefetch !== undefined && prefetch.queue > 0) command.push('--spool', prefetch.spool, '--prefetch', String(prefetch.queue));
  const get = command.map((a) => (a === '%f' ? a : a === '%p' ? '"%p"' : literal(a))).join(' ');
  if (prefetch === undefined || prefetch.queue <= 0) return get;
  const spooled = `${literal(prefetch.spool)}/%f`;
  // `if` keeps wal get's exit status (1: not in the archive, 255: failure), which PostgreSQL reads.
  return `if [ -f ${spooled} ] && mv -f ${spooled} "%p" 2>/dev/null; then :; else ${get}; fi`;
}

/** archive_command: `datakeep wal push %p --repo REPO --passphrase-file F`, quoted for the server's shell. */
export function walPushCommand(repositoryPath: string, passphraseFile: string): string {
  const command = [...datakeepForServer(), 'wal', 'push', '%p', '--repo', repositoryPath, '--passphrase-file', passphraseFile];
  return command.map((a) => (a === '%p' ? a : shellQuote(a))).join(' ');
}

/** A path in restore_command: quoted for the shell, and `%` doubled, since PostgreSQL expands %f, %p, %r and %% anywhere. */
function literal(arg: string): string {
  return shellQuote(arg).replace(/%/g, '%%');
}
