import { rename, rm, writeFile } from 'node:fs/promises';
import type { Repository } from '../../../repository/repository-types.js';

/** What `wal get` wrote: the archived file itself, or the streamed snapshot of a segment not archived yet. */
export interface WalServed {
  readonly from: 'archive' | 'stream';
  readonly content: Buffer;
}

/**
 * `restore_command`: writes the archived WAL file `name` (PostgreSQL's %f) to `destPath` (%p) and returns true, or
 * returns false when the archive does not have it, which is how recovery learns that it reached the end of the
 * archive. The file appears under its final name only once complete. A missing segment is served from its streamed
 * snapshot when there is one.
 */
export async function walGet(repository: Repository, name: string, destPath: string): Promise<boolean> {
  return (await walGetServed(repository, name, destPath)) !== undefined;
}

/** walGet, saying what it served (undefined: not in the archive), for prefetching after it. */
export async function walGetServed(repository: Repository, name: string, destPath: string): Promise<WalServed | undefined> {
  // A segment the archiver has not delivered yet may exist as a streamed snapshot (`wal stream`): recovery replays it
  // up to its last complete record, so a lost primary loses only what was not streamed yet.
  let from: WalServed['from'] = 'archive';
  let content = await repository.getWal(name);
  if (content === undefined && /^[0-9A-F]{24}$/.test(name)) {
    content = await repository.getWal(`${name}.stream`);
    from = 'stream';
  }
  if (content === undefined) return undefined;
  const temporary = `${destPath}.datakeep-${process.pid}`;
  try {
    await writeFile(temporary, content, { mode: 0o600 });
    await rename(temporary, destPath);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return { from, content };
}
