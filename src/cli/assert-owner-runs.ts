import { stat } from 'node:fs/promises';
import { UsageError } from '../errors/index.js';

/**
 * The repository's files must stay readable by the server's OS user (restore_command runs as it): a `wal push` or
 * `wal stream` run by root would write files only root can read. Refuse at once, saying how to run it.
 */
export async function assertOwnerRuns(repositoryPath: string, command: string): Promise<void> {
  if (process.getuid?.() !== 0 || repositoryPath === '') return;
  const owner = await stat(repositoryPath).then((s) => s.uid, () => 0);
  if (owner !== 0) throw new UsageError(command, `run it as the repository's owner (uid ${owner}), e.g. runuser -u postgres -- datakeep ${command} ...; as root the files it writes would be unreadable by restore_command`);
}
