import { rename, rm, writeFile } from 'node:fs/promises';
import type { Repository } from '../../repository/repository-types.js';

/**
 * `restore_command`: writes the archived WAL file `name` (PostgreSQL's %f) to `destPath` (%p) and returns true, or
 * returns false when the archive does not have it, which is how recovery learns that it reached the end of the
 * archive. The file appears under its final name only once complete.
 */
export async function walGet(repository: Repository, name: string, destPath: string): Promise<boolean> {
  const content = await repository.getWal(name);
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
