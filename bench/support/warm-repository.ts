import { Readable } from 'node:stream';
import type { Repository } from '../../src/repository/repository-types.js';

/** More than the pool's inline limit, so each file's scan goes to a worker thread. */
const WARM_FILE_BYTES = 256 * 1024;

/**
 * Waits, untimed, until every chunk worker of a freshly opened repository has loaded its code. Under tsx (how the
 * benches run) each worker thread registers tsx and compiles the TypeScript sources: about 1 s of CPU for two workers
 * on a loaded machine, which the built package does not spend (about 0.2 s, measured with dist/). Concurrent files
 * are scanned on different workers, so one small file per worker reaches them all; the backup is aborted, leaving a
 * few bytes of chunks (filled with one byte each: they compress to almost nothing).
 */
export async function warmRepository(repository: Repository, workers: number): Promise<void> {
  const writer = await repository.beginBackup({ type: 'full', database: 'bench-warm-up' });
  try {
    await Promise.all(Array.from({ length: Math.max(1, workers) }, (_, i) => writer.addFile(`warm-${i}`, Readable.from([Buffer.alloc(WARM_FILE_BYTES, i + 1)]), { size: WARM_FILE_BYTES, mtimeMs: 0, mode: 0o600 })));
  } finally {
    await writer.abort();
  }
}
