import { Worker } from 'node:worker_threads';
import { RepositoryError } from '../errors/repository-error.js';
import { ChunkWork, type ChunkWorkSettings } from './chunk-work.js';
import type { WorkerReply, WorkerRequest } from './chunk-worker-protocol.js';

/** A chunk whose id is known; its plaintext waits (in a worker) to be encoded or dropped. */
export interface IdentifiedChunk {
  readonly id: string;
  readonly size: number;
  encode(key: string): Promise<Buffer>;
  drop(): void;
}

interface Pending {
  resolve(reply: WorkerReply): void;
  reject(error: Error): void;
}

class PoolWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  broken: Error | undefined;

  constructor(settings: ChunkWorkSettings) {
    this.worker = startWorker(settings);
    this.worker.unref();
    this.worker.on('message', (reply: WorkerReply) => {
      const waiter = this.pending.get(reply.seq);
      if (waiter === undefined) return;
      this.pending.delete(reply.seq);
      this.#idle();
      waiter.resolve(reply);
    });
    const fail = (error: Error): void => {
      this.broken = error;
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`chunk worker exited with code ${code}`)));
  }

  request(message: WorkerRequest, transfer: ArrayBuffer[] = [], expectReply = true): Promise<WorkerReply> {
    if (this.broken !== undefined) return Promise.reject(this.broken);
    // Referenced only while work is outstanding: an idle pool never keeps the process alive.
    if (this.pending.size === 0 && expectReply) this.worker.ref();
    const promise = expectReply
      ? new Promise<WorkerReply>((resolve, reject) => this.pending.set(message.seq, { resolve, reject }))
      : Promise.resolve({ seq: message.seq, id: '' });
    this.worker.postMessage(message, transfer);
    return promise;
  }

  #idle(): void {
    if (this.pending.size === 0) this.worker.unref();
  }
}

/**
 * Chunk ids (HMAC-SHA256), compression and encryption on `workers` threads (0: inline on the calling thread). The
 * caller asks for the id first and then either encodes (new chunk) or drops (already stored), so deduplicated chunks
 * cost one HMAC, not a compression.
 */
export class ChunkWorkerPool {
  readonly size: number;
  readonly #workers: PoolWorker[] = [];
  readonly #inline: ChunkWork | undefined;
  #seq = 0;
  #closed = false;

  constructor(settings: ChunkWorkSettings, workers: number) {
    this.size = workers;
    if (workers === 0) this.#inline = new ChunkWork(settings);
    for (let i = 0; i < workers; i++) this.#workers.push(new PoolWorker(settings));
  }

  async identify(data: Buffer): Promise<IdentifiedChunk> {
    const size = data.length;
    const inline = this.#inline;
    if (inline !== undefined) {
      return { id: inline.chunkId(data), size, encode: async (key) => inline.encode(key, data), drop: () => undefined };
    }
    const worker = this.#pick();
    const seq = ++this.#seq;
    const reply = unwrap(await worker.request({ op: 'id', seq, data }, ownedBuffer(data)));
    if (!('id' in reply)) throw new Error('chunk worker protocol: expected an id');
    return {
      id: reply.id,
      size,
      encode: async (key) => {
        const encoded = unwrap(await worker.request({ op: 'encode', seq, key }));
        if (!('data' in encoded)) throw new Error('chunk worker protocol: expected data');
        return Buffer.from(encoded.data.buffer, encoded.data.byteOffset, encoded.data.byteLength);
      },
      drop: () => void worker.request({ op: 'drop', seq }, [], false),
    };
  }

  /** Authenticates, decrypts, decompresses and (for chunks) re-identifies an object. */
  async decode(key: string, data: Buffer, expectedId?: string): Promise<Buffer> {
    if (this.#inline !== undefined) return this.#inline.decode(key, data, expectedId);
    const seq = ++this.#seq;
    const reply = unwrap(await this.#pick().request({ op: 'decode', seq, key, id: expectedId, data }, ownedBuffer(data)));
    if (!('data' in reply)) throw new Error('chunk worker protocol: expected data');
    return Buffer.from(reply.data.buffer, reply.data.byteOffset, reply.data.byteLength);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }

  #pick(): PoolWorker {
    if (this.#closed) throw new RepositoryError('closed', 'the repository is closed; open it again to read or write');
    let best = this.#workers[0]!;
    for (const worker of this.#workers) if (worker.pending.size < best.pending.size) best = worker;
    return best;
  }
}

function unwrap(reply: WorkerReply): WorkerReply {
  if ('error' in reply) throw new RepositoryError(reply.error.reason, reply.error.message, { object: reply.error.object });
  return reply;
}

/** The buffer's memory can move to the worker only if nothing else shares it (pooled small Buffers do). */
function ownedBuffer(data: Buffer): ArrayBuffer[] {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? [data.buffer as ArrayBuffer] : [];
}

/** The built package ships chunk-worker.js beside this file. Under tsx (tests, benches) the sources are .ts, and on
 * Node 20 a worker does not inherit the parent's `--import tsx` hooks, so the worker registers tsx before loading. */
function startWorker(settings: ChunkWorkSettings): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./chunk-worker.js', import.meta.url), { workerData: settings });
  const entry = new URL('./chunk-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData: settings });
}
