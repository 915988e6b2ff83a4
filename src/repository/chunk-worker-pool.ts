import { Worker } from 'node:worker_threads';
import { RepositoryError } from '../errors/repository-error.js';
import { ChunkWork } from './chunk-work.js';
import type { ChunkPoolSettings, WorkerReply, WorkerRequest } from './chunk-worker-protocol.js';
import { FileScan, type FileScanResult } from './file-scan.js';

/** A chunk whose id is known; its plaintext waits (in a worker) to be encoded or dropped. */
export interface IdentifiedChunk {
  readonly id: string;
  readonly size: number;
  encode(key: string): Promise<Buffer>;
  drop(): void;
}

/** One file's chunking and hashing, fed in order (see FileScan); runs on one worker, or inline. */
export interface ContentScanner {
  /**
   * Resolves to the chunks the data completes, in order. Takes ownership of the data's whole ArrayBuffer, which moves
   * to the worker (zero-copy, even when `data` views only part of it): pass memory that nothing else uses or reuses.
   */
  push(data: Buffer): Promise<Buffer[]>;
  finish(): Promise<FileScanResult>;
  /** Forgets the scan (after a failure); no reply. */
  abort(): void;
}

/**
 * Files and chunks up to this size are handled on the calling thread: for them a worker's round trips (several
 * messages, thread wake-ups) cost more than the work (a database directory holds hundreds of files of a few pages).
 */
const INLINE_LIMIT = 128 * 1024;

interface Pending {
  resolve(reply: WorkerReply): void;
  reject(error: Error): void;
}

class PoolWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  /** File scans pinned to this worker right now. */
  scans = 0;
  broken: Error | undefined;

  constructor(settings: ChunkPoolSettings) {
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
 * File scans (chunking + whole-file SHA-256), chunk ids (HMAC-SHA256), compression and encryption on `workers` threads
 * (0: inline on the calling thread), so the calling thread only moves buffers and does I/O. A file's scan stays on one
 * worker (its hash state); its chunks go to whichever worker is least busy. The caller asks for a chunk's id first and
 * then either encodes (new chunk) or drops (already stored), so deduplicated chunks cost one HMAC, not a compression.
 */
export class ChunkWorkerPool {
  readonly size: number;
  readonly #workers: PoolWorker[] = [];
  readonly #inline: ChunkWork | undefined;
  readonly #settings: ChunkPoolSettings;
  /** Work on small pieces done on the calling thread (see INLINE_LIMIT). */
  #small: ChunkWork | undefined;
  #seq = 0;
  #file = 0;
  #closed = false;

  constructor(settings: ChunkPoolSettings, workers: number) {
    this.size = workers;
    this.#settings = settings;
    if (workers === 0) this.#inline = new ChunkWork(settings);
  }

  /**
   * The worker threads, started on first use: most opened repositories only list, show or read small objects (the
   * CLI's list and show, every metrics scrape, a lifecycle check), which run inline, and each thread costs about
   * 0.2 s of CPU to start.
   */
  #started(): PoolWorker[] {
    if (this.#closed) throw new RepositoryError('closed', 'the repository is closed; open it again to read or write');
    while (this.#workers.length < this.size) this.#workers.push(new PoolWorker(this.#settings));
    return this.#workers;
  }

  /** `expectedSize`: the file's size as the caller knows it (a hint: any content length works). */
  beginScan(expectedSize = Number.POSITIVE_INFINITY): ContentScanner {
    if (this.#inline !== undefined || expectedSize <= INLINE_LIMIT) {
      const scan = new FileScan(this.#settings.chunking, this.#settings.gear);
      return { push: async (data) => scan.push(data), finish: async () => scan.finish(), abort: () => undefined };
    }
    // Concurrent files go to different workers first: each scan is sequential, so two files scanning on one worker
    // while the other only compresses would leave the file scans as the bottleneck.
    const workers = this.#started();
    let worker = workers[0]!;
    for (const w of workers) if (w.scans < worker.scans || (w.scans === worker.scans && w.pending.size < worker.pending.size)) worker = w;
    const file = ++this.#file;
    worker.scans++;
    let open = true;
    const close = (): void => {
      if (open) worker.scans--;
      open = false;
    };
    void worker.request({ op: 'scan-begin', seq: ++this.#seq, file }, [], false);
    const chunksOf = (reply: WorkerReply): Buffer[] => {
      if (!('chunks' in reply)) throw new Error('chunk worker protocol: expected chunks');
      return reply.chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    };
    return {
      // The whole ArrayBuffer moves, not just the view: a partly filled batch would otherwise be cloned (copied and
      // serialized on this thread), which measured as a large share of this thread's time on one big stream.
      push: async (data) => chunksOf(unwrap(await worker.request({ op: 'scan', seq: ++this.#seq, file, data }, [data.buffer as ArrayBuffer]))),
      finish: async () => {
        try {
          const reply = unwrap(await worker.request({ op: 'scan-end', seq: ++this.#seq, file }));
          const chunks = chunksOf(reply);
          if (!('sha256' in reply) || reply.sha256 === undefined || reply.size === undefined) throw new Error('chunk worker protocol: expected the file hash');
          return { chunks, sha256: reply.sha256, size: reply.size };
        } finally {
          close();
        }
      },
      abort: () => {
        if (!open) return;
        close();
        if (worker.broken === undefined) void worker.request({ op: 'scan-abort', seq: ++this.#seq, file }, [], false);
      },
    };
  }

  async identify(data: Buffer): Promise<IdentifiedChunk> {
    const size = data.length;
    const inline = size <= INLINE_LIMIT ? (this.#small ??= new ChunkWork(this.#settings)) : this.#inline;
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
    // A timer keeps the event loop alive until every worker has exited: a worker terminated while it still starts
    // up (loading its modules) can leave nothing else referenced, and a caller awaiting close() as its last step
    // would see its process end with the promise pending.
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      await Promise.all(this.#workers.map((w) => w.worker.terminate()));
    } finally {
      clearInterval(keepAlive);
    }
  }

  #pick(): PoolWorker {
    const workers = this.#started();
    let best = workers[0]!;
    for (const worker of workers) if (worker.pending.size < best.pending.size) best = worker;
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
function startWorker(settings: ChunkPoolSettings): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./chunk-worker.js', import.meta.url), { workerData: settings });
  const entry = new URL('./chunk-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData: settings });
}
