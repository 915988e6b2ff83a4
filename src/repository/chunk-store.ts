import type { ChunkWorkerPool } from './chunk-worker-pool.js';
import { repositoryPaths } from './repository-paths.js';
import type { RepositoryStorage } from './repository-types.js';
import { Semaphore } from './semaphore.js';

/**
 * Stores chunks once: ids known to be in the repository (listed when a backup begins, under its shared lock, so a
 * prune by another process cannot leave the index stale) and ids being stored right now are not stored again;
 * putIfAbsent settles races with other processes. At most `inFlight` chunks are held at a time.
 */
export class ChunkStore {
  readonly #storage: RepositoryStorage;
  readonly #pool: ChunkWorkerPool;
  readonly #known = new Set<string>();
  readonly #storing = new Map<string, Promise<number>>();
  readonly #slots: Semaphore;

  constructor(storage: RepositoryStorage, pool: ChunkWorkerPool, inFlight: number) {
    this.#storage = storage;
    this.#pool = pool;
    this.#slots = new Semaphore(inFlight);
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

  /** Waits for a free slot; call before `store` to get backpressure. */
  reserve(): Promise<void> {
    return this.#slots.acquire();
  }

  /** Stores one chunk (its slot reserved) and resolves to its id and the bytes this call newly wrote. */
  async store(data: Buffer): Promise<{ id: string; storedBytes: number }> {
    try {
      const chunk = await this.#pool.identify(data);
      if (this.#known.has(chunk.id)) {
        chunk.drop();
        return { id: chunk.id, storedBytes: 0 };
      }
      const running = this.#storing.get(chunk.id);
      if (running !== undefined) {
        chunk.drop();
        await running;
        return { id: chunk.id, storedBytes: 0 };
      }
      const work = (async () => {
        const key = repositoryPaths.chunk(chunk.id);
        const encoded = await chunk.encode(key);
        const stored = await this.#storage.putIfAbsent(key, encoded);
        this.#known.add(chunk.id);
        return stored ? encoded.length : 0;
      })();
      this.#storing.set(chunk.id, work);
      try {
        return { id: chunk.id, storedBytes: await work };
      } finally {
        this.#storing.delete(chunk.id);
      }
    } finally {
      this.#slots.release();
    }
  }
}
