import type { ChunkWorkerPool, IdentifiedChunk } from './chunk-worker-pool.js';
import { repositoryPaths } from './repository-paths.js';
import type { RepositoryStorage } from './repository-types.js';
import { Semaphore } from './semaphore.js';

/** A chunk handed to the store: its id as soon as it is known, and the end of its write (bytes newly stored). */
export interface StoringChunk {
  readonly id: string;
  /** Resolves once the chunk is durable in the repository (or known to be); rejects when its write failed. */
  readonly written: Promise<number>;
}

/**
 * Stores chunks once: ids known to be in the repository (listed when a backup begins, under its shared lock, so a
 * prune by another process cannot leave the index stale) and ids being stored right now are not stored again;
 * putIfAbsent settles races with other processes. Chunks in flight are bounded in bytes (each counts at least
 * MIN_WEIGHT, so a directory of small files keeps several writes, and their fsyncs, going at once).
 */
export class ChunkStore {
  readonly #storage: RepositoryStorage;
  readonly #pool: ChunkWorkerPool;
  readonly #known = new Set<string>();
  readonly #storing = new Map<string, Promise<number>>();
  readonly #budget: Semaphore;
  readonly #capacity: number;

  /** `inFlightBytes`: plaintext bytes of chunks between `reserve` and the end of their write. */
  constructor(storage: RepositoryStorage, pool: ChunkWorkerPool, inFlightBytes: number) {
    this.#storage = storage;
    this.#pool = pool;
    this.#capacity = inFlightBytes;
    this.#budget = new Semaphore(inFlightBytes);
  }

  async loadIndex(): Promise<void> {
    this.#known.clear();
    for await (const key of this.#storage.list('chunks/')) {
      const id = key.slice(key.lastIndexOf('/') + 1);
      this.#known.add(id);
    }
  }

  forget(ids: Iterable<string>): void {
    for (const id of ids) this.#known.delete(id);
  }

  /** Waits until a chunk of `size` bytes fits the budget; call before `store` (with the same size) for backpressure. */
  reserve(size: number): Promise<void> {
    return this.#budget.acquire(this.#weight(size));
  }

  /**
   * Identifies one chunk (its budget reserved) and starts storing it unless the repository has it. Resolves with the
   * id once it is known; the write goes on in the background (`written`), and the budget is returned when it ends.
   */
  async store(data: Buffer): Promise<StoringChunk> {
    const weight = this.#weight(data.length);
    let chunk: IdentifiedChunk;
    try {
      chunk = await this.#pool.identify(data);
    } catch (error) {
      this.#budget.release(weight);
      throw error;
    }
    if (this.#known.has(chunk.id)) {
      chunk.drop();
      this.#budget.release(weight);
      return { id: chunk.id, written: Promise.resolve(0) };
    }
    const running = this.#storing.get(chunk.id);
    if (running !== undefined) {
      chunk.drop();
      this.#budget.release(weight);
      return { id: chunk.id, written: running.then(() => 0) };
    }
    const work = (async () => {
      try {
        const key = repositoryPaths.chunk(chunk.id);
        const encoded = await chunk.encode(key);
        const stored = await this.#storage.putIfAbsent(key, encoded);
        this.#known.add(chunk.id);
        return stored ? encoded.length : 0;
      } finally {
        this.#storing.delete(chunk.id);
        this.#budget.release(weight);
      }
    })();
    this.#storing.set(chunk.id, work);
    return { id: chunk.id, written: work };
  }

  #weight(size: number): number {
    return Math.min(this.#capacity, Math.max(size, MIN_WEIGHT));
  }
}

/** The least a chunk counts for in the budget: caps the number of writes in flight (24 MiB / 256 KiB = 96). */
const MIN_WEIGHT = 256 * 1024;
