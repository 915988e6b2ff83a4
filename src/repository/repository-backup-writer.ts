import type { Readable } from 'node:stream';
import { RepositoryError } from '../errors/repository-error.js';
import type { ChunkStore } from './chunk-store.js';
import type { ContentScanner } from './chunk-worker-pool.js';
import type { BackupManifest, BackupType, BackupWriter, ManifestFileEntry, RepositoryLock } from './repository-types.js';

/** Pieces at least this large are moved to the scan as they are; smaller ones are gathered into BATCH_SIZE buffers. */
const SMALL_PIECE = 256 * 1024;
const BATCH_SIZE = 1024 * 1024;
/** Pieces handed to a file's scan and not yet answered: enough to keep its worker busy while this thread reads. */
const SCANS_IN_FLIGHT = 3;

/** What the writer needs from its repository: kept narrow so the writer is testable on its own. */
export interface BackupWriterContext {
  readonly chunks: ChunkStore;
  /** Starts chunking and hashing one file's content (on a worker thread when the repository has workers). */
  beginScan(expectedSize: number): ContentScanner;
  /** Encrypts and writes the manifest, syncs, writes the marker; returns the manifest's stored size. */
  commit(manifest: BackupManifest): Promise<void>;
}

export interface BackupWriterStart {
  readonly backupId: string;
  readonly type: BackupType;
  readonly parent: string | undefined;
  readonly chain: readonly string[];
  readonly database: string;
  readonly lock: RepositoryLock;
}

/** One backup in progress (see BackupWriter). Holds its shared lock until complete() or abort(). */
export class RepositoryBackupWriter implements BackupWriter {
  readonly backupId: string;
  readonly #context: BackupWriterContext;
  readonly #start: BackupWriterStart;
  readonly #startedAt = new Date().toISOString();
  readonly #files = new Map<string, ManifestFileEntry>();
  readonly #blobs: Record<string, string> = {};
  #metadata: Record<string, unknown> = {};
  #storedBytes = 0;
  #active = 0;
  /** Chunk writes still running, and the first that failed (complete() reports it). */
  readonly #writes = new Set<Promise<void>>();
  #writeFailure: { error: unknown } | undefined;
  #state: 'open' | 'completing' | 'done' = 'open';

  constructor(context: BackupWriterContext, start: BackupWriterStart) {
    this.#context = context;
    this.#start = start;
    this.backupId = start.backupId;
  }

  async addFile(path: string, content: Readable, meta: { size: number; mtimeMs: number; mode: number }): Promise<ManifestFileEntry> {
    this.#assertOpen();
    this.#assertWritesOk();
    this.#claimPath(path);
    this.#active++;
    try {
      const entry = await this.#storeContent(path, content, meta);
      this.#files.set(path, entry);
      return entry;
    } catch (error) {
      this.#files.delete(path);
      throw error;
    } finally {
      this.#active--;
    }
  }

  reuseFile(entry: ManifestFileEntry): void {
    this.#assertOpen();
    if (!Array.isArray(entry.chunks) || typeof entry.sha256 !== 'string' || typeof entry.storedIn !== 'string') {
      throw new RepositoryError('invalid-argument', `reuseFile(${JSON.stringify(entry.path)}): pass an entry taken from an earlier manifest (chunks, sha256 and storedIn are required)`);
    }
    this.#claimPath(entry.path);
    this.#files.set(entry.path, Object.freeze({ ...entry, chunks: [...entry.chunks] }));
  }

  addBlob(name: string, text: string): void {
    this.#assertOpen();
    this.#blobs[name] = text;
  }

  setMetadata(metadata: Record<string, unknown>): void {
    this.#assertOpen();
    this.#metadata = { ...this.#metadata, ...metadata };
  }

  async complete(): Promise<BackupManifest> {
    this.#assertOpen();
    if (this.#active > 0) {
      throw new RepositoryError('invalid-argument', `backup ${this.backupId}: complete() called while ${this.#active} addFile call(s) still run; await every addFile first`);
    }
    this.#state = 'completing';
    await this.#settleWrites();
    try {
      this.#assertWritesOk();
    } catch (error) {
      this.#state = 'open';
      throw error;
    }
    const files = [...this.#files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const manifest: BackupManifest = {
      formatVersion: 1,
      backupId: this.backupId,
      type: this.#start.type,
      parent: this.#start.parent,
      chain: this.#start.chain,
      database: this.#start.database,
      startedAt: this.#startedAt,
      finishedAt: new Date().toISOString(),
      files,
      blobs: { ...this.#blobs },
      metadata: this.#metadata,
      sizeBytes: files.reduce((sum, f) => sum + f.size, 0),
      storedBytes: this.#storedBytes,
    };
    try {
      await this.#context.commit(manifest);
    } catch (error) {
      this.#state = 'open';
      throw error;
    }
    this.#state = 'done';
    await this.#start.lock.release();
    return manifest;
  }

  async abort(): Promise<void> {
    if (this.#state === 'done') return;
    this.#state = 'done';
    // Writes still running finish first: the shared lock keeps a prune from racing with them.
    await this.#settleWrites();
    await this.#start.lock.release();
  }

  #track(written: Promise<number>): void {
    const done: Promise<void> = written.then(
      (bytes) => {
        this.#storedBytes += bytes;
      },
      (error: unknown) => {
        this.#writeFailure ??= { error };
      },
    ).finally(() => this.#writes.delete(done));
    this.#writes.add(done);
  }

  /** A chunk write that failed in the background fails the backup: reported by the next addFile or by complete(). */
  #assertWritesOk(): void {
    if (this.#writeFailure === undefined) return;
    const { error } = this.#writeFailure;
    if (error instanceof RepositoryError) throw error;
    throw new RepositoryError('invalid-argument', `backup ${this.backupId}: a chunk could not be stored (${error instanceof Error ? error.message : String(error)}); abort this backup, fix the repository's storage and start a new one`, { cause: error });
  }

  async #settleWrites(): Promise<void> {
    while (this.#writes.size > 0) await Promise.all([...this.#writes]);
  }

  /**
   * Reads the content once on this thread and hands it, in pieces of about 1 MiB moved (not copied) to a worker, to
   * the file's scan (chunking + SHA-256); each chunk the scan completes goes to the chunk store (id, dedup, compress,
   * encrypt, write on the least busy worker). This thread only moves buffers and does I/O, so concurrent addFile
   * calls and the chunks of one big file spread over every worker. Resolves once every chunk id is known: the writes
   * of new chunks finish in the background (complete() waits for them), so a directory of small files is not paced by
   * one fsync per file. Memory: SCANS_IN_FLIGHT pieces per file plus the store's bounded chunks in flight.
   */
  async #storeContent(path: string, content: Readable, meta: { size: number; mtimeMs: number; mode: number }): Promise<ManifestFileEntry> {
    const scanner = this.#context.beginScan(meta.size);
    const ids: string[] = [];
    const pending: Promise<void>[] = [];
    const scans: Promise<Buffer[]>[] = [];
    let failure: unknown;
    let size = 0;
    let batch: Buffer | undefined;
    let batchLength = 0;
    const submit = async (chunks: Buffer[]): Promise<void> => {
      for (const chunk of chunks) {
        await this.#context.chunks.reserve(chunk.length);
        const index = ids.length;
        ids.push('');
        pending.push(this.#context.chunks.store(chunk).then(
          (result) => {
            ids[index] = result.id;
            this.#track(result.written);
          },
          (error: unknown) => {
            failure ??= error;
          },
        ));
      }
    };
    const send = (bytes: Buffer): void => {
      scans.push(scanner.push(bytes));
    };
    const flushBatch = (): void => {
      if (batch === undefined || batchLength === 0) return;
      // A partly filled batch moves whole too (the scanner takes its ArrayBuffer): never copied again on the way.
      send(batchLength === batch.length ? batch : batch.subarray(0, batchLength));
      batch = undefined;
      batchLength = 0;
    };
    try {
      for await (const piece of content as AsyncIterable<Buffer | string>) {
        if (failure !== undefined) break;
        const bytes = typeof piece === 'string' ? Buffer.from(piece) : piece;
        size += bytes.length;
        if (bytes.length >= SMALL_PIECE) {
          flushBatch();
          // File streams read into Buffers of their own (moved to the worker as they are); a view into shared memory
          // is copied first, since moving it would take its neighbours' memory along.
          send(bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : Buffer.from(bytes));
        } else {
          // Small pieces (generic streams) are gathered so each message to the worker carries real work.
          if (batch !== undefined && batchLength + bytes.length > batch.length) flushBatch();
          batch ??= Buffer.allocUnsafeSlow(BATCH_SIZE);
          bytes.copy(batch, batchLength);
          batchLength += bytes.length;
        }
        while (scans.length > SCANS_IN_FLIGHT) await submit(await scans.shift()!);
      }
      flushBatch();
      while (scans.length > 0 && failure === undefined) await submit(await scans.shift()!);
      if (failure === undefined) {
        const tail = await scanner.finish();
        await submit(tail.chunks);
        await Promise.all(pending);
        if (failure === undefined) {
          if (tail.size !== size) throw new Error(`the scan saw ${tail.size} bytes, the stream gave ${size}`);
          return Object.freeze({ path, size, mtimeMs: meta.mtimeMs, mode: meta.mode, sha256: tail.sha256, chunks: Object.freeze(ids), storedIn: this.backupId });
        }
      }
    } catch (error) {
      failure ??= error;
    }
    scanner.abort();
    for (const scan of scans) void scan.catch(() => undefined);
    await Promise.all(pending);
    content.destroy();
    if (failure instanceof RepositoryError) throw failure;
    throw new RepositoryError('invalid-argument', `addFile(${JSON.stringify(path)}) failed while reading or storing its content: ${failure instanceof Error ? failure.message : String(failure)}`, { object: path, cause: failure });
  }

  #claimPath(path: string): void {
    if (typeof path !== 'string' || path === '' || path.startsWith('/') || path.split('/').some((p) => p === '..' || p === '')) {
      throw new RepositoryError('invalid-argument', `file path ${JSON.stringify(path)} is invalid: use a relative path with / separators and no empty or .. segments`);
    }
    if (this.#files.has(path)) throw new RepositoryError('invalid-argument', `backup ${this.backupId}: file ${JSON.stringify(path)} was already added; add each path once`);
    this.#files.set(path, undefined as unknown as ManifestFileEntry);
  }

  #assertOpen(): void {
    if (this.#state !== 'open') throw new RepositoryError('closed', `backup ${this.backupId} is already ${this.#state === 'done' ? 'completed or aborted' : 'completing'}; begin a new backup`);
  }
}
