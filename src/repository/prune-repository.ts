import { RepositoryError } from '../errors/repository-error.js';
import { CHUNK_ID } from './repository-paths.js';
import type { Repository, RepositoryStorage } from './repository-types.js';

export interface PruneOutcome {
  readonly chunksRemoved: number;
  readonly bytesReclaimed: number;
  readonly dryRun: boolean;
  readonly removedIds: string[];
}

/** Optional storage extras used when present (FilesystemStorage has them). */
interface StorageExtras {
  size?(key: string): Promise<number>;
  listTemporary?(): AsyncIterable<string>;
}

/**
 * Mark and sweep, run under the exclusive lock (no backup is running): every chunk named by a completed backup's
 * manifest is kept; other chunks, the objects of backups without a completion marker (interrupted or deleted) and
 * temporary files of crashed writers are removed. A manifest that cannot be read stops the prune before anything is
 * deleted: its chunks cannot be told apart from garbage.
 */
export async function pruneRepository(repository: Repository, storage: RepositoryStorage, dryRun: boolean): Promise<PruneOutcome> {
  const extras = storage as RepositoryStorage & StorageExtras;
  const referenced = new Set<string>();
  const complete = new Set<string>();
  for (const summary of await repository.list()) {
    let manifest;
    try {
      manifest = await repository.manifest(summary.backupId);
    } catch (cause) {
      throw new RepositoryError('corrupt-object', `prune stopped before deleting anything: the manifest of backup ${summary.backupId} cannot be read, so the chunks it needs are unknown; run verify, restore the manifest from a copy or delete the backup`, { object: summary.backupId, cause });
    }
    complete.add(summary.backupId);
    for (const file of manifest.files) for (const id of file.chunks) referenced.add(id);
  }

  const leftovers: string[] = [];
  for await (const key of storage.list('backups/')) {
    const backupId = key.split('/')[1];
    if (backupId !== undefined && !complete.has(backupId)) leftovers.push(key);
  }
  if (extras.listTemporary !== undefined) for await (const key of extras.listTemporary()) leftovers.push(key);

  const removedIds: string[] = [];
  let bytesReclaimed = 0;
  for await (const key of storage.list('chunks/')) {
    const id = key.slice(key.lastIndexOf('/') + 1);
    if (!CHUNK_ID.test(id) || referenced.has(id)) continue;
    bytesReclaimed += extras.size !== undefined ? await extras.size(key) : (await storage.get(key)).length;
    removedIds.push(id);
    if (!dryRun) await storage.delete(key);
  }
  if (!dryRun) {
    for (const key of leftovers) await storage.delete(key);
    await storage.sync();
  }
  return { chunksRemoved: removedIds.length, bytesReclaimed, dryRun, removedIds };
}
