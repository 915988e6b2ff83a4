import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Repository } from '../../../repository/repository-types.js';
import type { WalWaiting } from './postgres-backup-result.js';

/**
 * Polls the repository's WAL archive until every name in `segments` is there or `timeoutMs` passes; returns the names
 * still missing (empty when all arrived). The archive is the proof, not the server's archiver status: a segment counts
 * only once it is stored in the repository.
 *
 * With `dataDirectory`, segments the server has finished (its `archive_status/<name>.ready` file exists, so the file
 * is complete and final) are pushed from pg_wal by this process too, as pgBackRest's asynchronous archive-push does:
 * the backup does not wait for the archiver to start a process per segment, and the archiver's own push of the same
 * content then succeeds as 'already-present'. A segment without its .ready file is never read (it may still be
 * written, and a different copy would make the archiver's push conflict).
 */
export async function waitForWal(repository: Repository, segments: readonly string[], timeoutMs: number, options: WaitForWalOptions = {}): Promise<string[]> {
  const startedAt = Date.now();
  const deadline = startedAt + timeoutMs;
  let pause = 50;
  let nextReport = startedAt;
  for (;;) {
    const archived = new Set(await repository.listWal());
    let missing = segments.filter((name) => !archived.has(name));
    if (missing.length > 0 && options.dataDirectory !== undefined) {
      for (const name of missing) await pushIfReady(repository, options.dataDirectory, name);
      const after = new Set(await repository.listWal());
      missing = missing.filter((name) => !after.has(name));
    }
    if (missing.length === 0 || Date.now() >= deadline || options.signal?.aborted) return missing;
    if (options.onWait && Date.now() >= nextReport) {
      nextReport = Date.now() + 1000;
      const wait: WalWaiting = { segment: missing[0]!, seconds: Math.floor((Date.now() - startedAt) / 1000), archived: segments.length - missing.length, total: segments.length };
      try {
        options.onWait(wait);
      } catch {
        // A progress display must never break a backup.
      }
    }
    // Never sleep past the next report: a display that goes quiet for seconds looks like a hang.
    const sleepMs = Math.min(pause, Math.max(1, deadline - Date.now()), options.onWait ? Math.max(1, nextReport - Date.now()) : Infinity);
    await new Promise((resolve) => setTimeout(resolve, sleepMs));
    pause = Math.min(pause * 2, 500);
  }
}

export interface WaitForWalOptions {
  signal?: AbortSignal;
  dataDirectory?: string;
  /** Called at least once a second while segments are missing (not once they have all arrived). */
  onWait?: (wait: WalWaiting) => void;
}

async function pushIfReady(repository: Repository, dataDirectory: string, name: string): Promise<void> {
  const walDir = join(dataDirectory, 'pg_wal');
  try {
    await access(join(walDir, 'archive_status', `${name}.ready`));
  } catch {
    return;
  }
  let content: Buffer;
  try {
    content = await readFile(join(walDir, name));
  } catch {
    // Archived and recycled meanwhile: the next listing shows it.
    return;
  }
  await repository.putWal(name, content);
}
