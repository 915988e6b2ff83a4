import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Repository } from '../../../repository/repository-types.js';
import { UsageError } from '../../../errors/index.js';
import { isWalFileName } from './wal-position.js';
import { checkWalSegmentFile } from './wal-segment-header.js';
import { checkTimelineAccepted } from './wal-timeline-guard.js';

export interface WalPushOptions {
  /** Accept a .history file that branches before the end of its parent's archived WAL (a failover to a replica that
   * was behind). Without it such a file is refused as a restored cluster's. */
  acceptNewTimeline?: boolean;
}

/**
 * `archive_command`: stores the WAL file at `path` (relative to the data directory, PostgreSQL's %p) in the
 * repository's archive under its own name. Pushing a segment that is already archived with the same content succeeds
 * (PostgreSQL retries a push whose success it did not see); different content under the same name throws the
 * repository's 'wal-conflict' error, so the archiver stops and the server log says why, instead of history being
 * silently overwritten (two clusters archiving into one repository, or a restored cluster on a reused timeline).
 * A segment that is not whole and valid for its name ('wal-invalid') or a timeline the archive does not expect
 * ('wal-timeline') is refused the same way, before anything is stored.
 */
export async function walPush(repository: Repository, path: string, options: WalPushOptions = {}): Promise<'stored' | 'already-present'> {
  const name = basename(path);
  if (!isWalFileName(name)) {
    throw new UsageError('path', `"${name}" is not a WAL file name (24 hex digits, or a .history/.backup/.partial file); archive_command must pass %p`);
  }
  // A segment is 16 MiB by default (at most 1 GiB): small enough to hold, and it is hashed and encrypted whole.
  const content = await readFile(path);
  // A .partial is by definition not a whole segment, and .backup/.history files have no page header.
  if (/^[0-9A-F]{24}$/.test(name)) checkWalSegmentFile(name, content);
  await checkTimelineAccepted(repository, name, content, { acceptNewTimeline: options.acceptNewTimeline });
  return repository.putWal(name, content);
}
