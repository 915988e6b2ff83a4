import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { RepositoryError } from '../errors/repository-error.js';
import type { ChunkWorkerPool } from './chunk-worker-pool.js';
import { repositoryPaths } from './repository-paths.js';
import type { ManifestFileEntry, RepositoryStorage } from './repository-types.js';

/** One chunk of a file as read back: its plaintext, or why it could not be read. */
export type ChunkRead = { readonly id: string; readonly data: Buffer } | { readonly id: string; readonly error: RepositoryError };

/**
 * Reads a file's chunks in order with at most `readAhead` chunks in flight (fetch + decode run in parallel, output stays
 * ordered), so memory is bounded by readAhead × 4 MiB whatever the file size. Never throws: failures are yielded.
 */
export async function* readChunks(storage: RepositoryStorage, pool: ChunkWorkerPool, entry: ManifestFileEntry, readAhead: number): AsyncGenerator<ChunkRead> {
  const window: Promise<ChunkRead>[] = [];
  let next = 0;
  const start = (id: string): Promise<ChunkRead> => readChunk(storage, pool, id);
  try {
    while (next < entry.chunks.length || window.length > 0) {
      while (window.length < readAhead && next < entry.chunks.length) window.push(start(entry.chunks[next++]!));
      yield await window.shift()!;
    }
  } finally {
    // Abandoned early (consumer stopped): let in-flight reads settle quietly.
    for (const pending of window) void pending.catch(() => undefined);
  }
}

async function readChunk(storage: RepositoryStorage, pool: ChunkWorkerPool, id: string): Promise<ChunkRead> {
  const key = repositoryPaths.chunk(id);
  let stored: Buffer;
  try {
    stored = await storage.get(key);
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    return { id, error: new RepositoryError(missing ? 'missing-object' : 'corrupt-object', `chunk ${id} ${missing ? 'is missing from' : 'cannot be read from'} the repository (${key})`, { object: key, cause }) };
  }
  try {
    return { id, data: await pool.decode(key, stored, id) };
  } catch (error) {
    return { id, error: error instanceof RepositoryError ? error : new RepositoryError('corrupt-object', `chunk ${id} cannot be decoded`, { object: key, cause: error }) };
  }
}

/** The plaintext of a file as a stream; it errors (RepositoryError naming the file and chunk) at the first chunk that is
 * missing or fails authentication, and at the end when the whole-file SHA-256 or size differs from the manifest. */
export function fileReadStream(storage: RepositoryStorage, pool: ChunkWorkerPool, entry: ManifestFileEntry, readAhead: number): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of readChunks(storage, pool, entry, readAhead)) {
      if ('error' in chunk) {
        throw new RepositoryError(chunk.error.reason, `${entry.path}: ${chunk.error.message}`, { object: chunk.error.object, cause: chunk.error });
      }
      hash.update(chunk.data);
      size += chunk.data.length;
      yield chunk.data;
    }
    const digest = hash.digest('hex');
    if (digest !== entry.sha256 || size !== entry.size) {
      throw new RepositoryError('corrupt-object', `${entry.path}: content read back (${size} bytes, sha256 ${digest}) differs from the manifest (${entry.size} bytes, sha256 ${entry.sha256})`, { object: entry.path });
    }
  }
  return Readable.from(generate(), { objectMode: false, highWaterMark: 1 });
}
