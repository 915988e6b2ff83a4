import type { Repository } from '../../repository/repository-types.js';

/**
 * Polls the repository's WAL archive until every name in `segments` is there or `timeoutMs` passes; returns the names
 * still missing (empty when all arrived). The archive is the proof, not the server's archiver status: a segment counts
 * only once `wal push` stored it.
 */
export async function waitForWal(repository: Repository, segments: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let pause = 50;
  for (;;) {
    const archived = new Set(await repository.listWal());
    const missing = segments.filter((name) => !archived.has(name));
    if (missing.length === 0 || Date.now() >= deadline || signal?.aborted) return missing;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pause, Math.max(1, deadline - Date.now()))));
    pause = Math.min(pause * 2, 500);
  }
}
