import { datakeepCommandLine } from '../../../util/datakeep-command-line.js';
import { shellQuote } from '../../../util/shell-quote.js';

/**
 * The argv of this datakeep as PostgreSQL's OS user runs it from archive_command and restore_command (absolute paths:
 * the server runs them with its own working directory and environment).
 */
export function datakeepForServer(): string[] {
  return datakeepCommandLine();
}

/** restore_command: `datakeep wal get %f "%p" --repo REPO [--passphrase-file F]`, quoted for the server's shell. */
export function walGetCommand(repositoryPath: string, passphraseFile: string | undefined): string {
  const command = [...datakeepForServer(), 'wal', 'get', '%f', '%p', '--repo', repositoryPath];
  if (passphraseFile) command.push('--passphrase-file', passphraseFile);
  return command.map((a) => (a === '%f' ? a : a === '%p' ? '"%p"' : shellQuote(a))).join(' ');
}

/** archive_command: `datakeep wal push %p --repo REPO --passphrase-file F`, quoted for the server's shell. */
export function walPushCommand(repositoryPath: string, passphraseFile: string): string {
  const command = [...datakeepForServer(), 'wal', 'push', '%p', '--repo', repositoryPath, '--passphrase-file', passphraseFile];
  return command.map((a) => (a === '%p' ? a : shellQuote(a))).join(' ');
}
