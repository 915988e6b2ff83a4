import { createHash } from 'node:crypto';
import { RepositoryError } from '../errors/repository-error.js';
import { readChunks } from './chunk-reader.js';
import type { ChunkWorkerPool } from './chunk-worker-pool.js';
import type { BackupManifest, Repository, RepositoryStorage, VerifyProblem, VerifyReport } from './repository-types.js';

/**
 * Re-reads every chunk of every file of the backup's manifest (which lists reused files of its ancestors too), checks
 * each chunk's authentication and id and each file's SHA-256, then the WAL segments listed in
 * `metadata.walSegments`. Reports every problem rather than stopping at the first.
 */
export async function verifyBackup(repository: Repository, storage: RepositoryStorage, pool: ChunkWorkerPool, backupId: string, readAhead: number): Promise<VerifyReport> {
  const problems: VerifyProblem[] = [];
  let chunksChecked = 0;
  let bytesChecked = 0;
  let manifest: BackupManifest;
  try {
    manifest = await repository.manifest(backupId);
  } catch (error) {
    if (error instanceof RepositoryError && error.reason === 'invalid-argument') throw error;
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, backupId, chunksChecked, bytesChecked, problems: [{ kind: 'missing-manifest', backupId, path: backupId, message }] };
  }
  for (const entry of manifest.files) {
    const hash = createHash('sha256');
    let readable = true;
    for await (const chunk of readChunks(storage, pool, entry, readAhead)) {
      chunksChecked++;
      if ('error' in chunk) {
        readable = false;
        const kind = chunk.error.reason === 'missing-object' ? 'missing-chunk' : 'corrupt-chunk';
        problems.push({ kind, backupId, path: entry.path, chunk: chunk.id, message: `${entry.path}: ${chunk.error.message}` });
        continue;
      }
      bytesChecked += chunk.data.length;
      hash.update(chunk.data);
    }
    if (readable) {
      const digest = hash.digest('hex');
      if (digest !== entry.sha256) {
        problems.push({ kind: 'file-hash-mismatch', backupId, path: entry.path, message: `${entry.path}: content sha256 ${digest} differs from the manifest's ${entry.sha256}` });
      }
    }
  }
  const segments = manifest.metadata['walSegments'];
  if (Array.isArray(segments)) {
    for (const name of segments) {
      if (typeof name !== 'string') continue;
      try {
        const content = await repository.getWal(name);
        if (content === undefined) problems.push({ kind: 'missing-wal', backupId, path: name, message: `WAL ${name} that backup ${backupId} needs is not in the archive` });
        else bytesChecked += content.length;
      } catch (error) {
        problems.push({ kind: 'corrupt-wal', backupId, path: name, message: error instanceof Error ? error.message : String(error) });
      }
    }
  }
  return { ok: problems.length === 0, backupId, chunksChecked, bytesChecked, problems };
}
