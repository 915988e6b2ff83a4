import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Repository } from '../../repository/repository-types.js';
import { UsageError } from '../../errors/index.js';
import { isWalFileName } from './wal-position.js';

/**
 * `archive_command`: stores the WAL file at `path` (relative to the data directory, PostgreSQL's %p) in the
 * repository's archive under its own name. Pushing a segment that is already archived with the same content succeeds
 * (PostgreSQL retries a push whose success it did not see); different content under the same name throws the
 * repository's 'wal-conflict' error, so the archiver stops and the server log says why, instead of history being
 * silently overwritten (two clusters archiving into one repository, or a restored cluster on a reused timeline).
 */
export async function walPush(repository: Repository, path: string): Promise<'stored' | 'already-present'> {
  const name = basename(path);
  if (!isWalFileName(name)) {
    throw new UsageError('path', `"${name}" is not a WAL file name (24 hex digits, or a .history/.backup/.partial file); archive_command must pass %p`);
  }
  // A segment is 16 MiB by default (at most 1 GiB): small enough to hold, and it is hashed and encrypted whole.
  return repository.putWal(name, await readFile(path));
}
