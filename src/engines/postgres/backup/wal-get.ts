import { rename, rm, writeFile } from 'node:fs/promises';
import type { Repository } from '../../../repository/repository-types.js';

/**
 * `restore_command`: writes the archived WAL file `name` (PostgreSQL's %f) to `destPath` (%p) and returns true, or
 * returns false when the archive does not have it, which is how recovery learns that it reached the end of the
 * archive. The file appears under its final name only once complete. A missing segment is served from its streamed
 * snapshot when there is one.
 */
export async function walGet(repository: Repository, name: string, destPath: string): Promise<boolean> {
  // A segment the archiver has not delivered yet may exist as a streamed snapshot (`wal stream`): recovery replays it
  // up to its last complete record, so a lost primary loses only what was not streamed yet.
  const content = (await repository.getWal(name)) ?? (/^[0-9A-F]{24}$/.test(name) ? await repository.getWal(`${name}.stream`) : undefined);
  if (content === undefined) return false;
  const temporary = `${destPath}.datakeep-${process.pid}`;
  try {
    await writeFile(temporary, content, { mode: 0o600 });
    await rename(temporary, destPath);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return true;
}
