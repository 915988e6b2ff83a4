import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { RepositoryError } from '../errors/repository-error.js';
import type { ChunkStore } from './chunk-store.js';
import { ContentDefinedChunker, type ChunkSizes } from './content-defined-chunker.js';
import type { BackupManifest, BackupType, BackupWriter, ManifestFileEntry, RepositoryLock } from './repository-types.js';

/** What the writer needs from its repository: kept narrow so the writer is testable on its own. */
export interface BackupWriterContext {
  readonly chunks: ChunkStore;
  readonly chunking: ChunkSizes;
  readonly gear: Int32Array;
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
  #state: 'open' | 'completing' | 'done' = 'open';

  constructor(context: BackupWriterContext, start: BackupWriterStart) {
    this.#context = context;
    this.#start = start;
    this.backupId = start.backupId;
  }

  async addFile(path: string, content: Readable, meta: { size: number; mtimeMs: number; mode: number }): Promise<ManifestFileEntry> {
    this.#assertOpen();
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
    await this.#start.lock.release();
  }

  async #storeContent(path: string, content: Readable, meta: { size: number; mtimeMs: number; mode: number }): Promise<ManifestFileEntry> {
    const chunker = new ContentDefinedChunker(this.#context.chunking, this.#context.gear);
    const hash = createHash('sha256');
    const ids: string[] = [];
    const pending: Promise<void>[] = [];
    let failure: unknown;
    let size = 0;
    const submit = async (chunk: Buffer): Promise<void> => {
      await this.#context.chunks.reserve();
      const index = ids.length;
      ids.push('');
      pending.push(this.#context.chunks.store(chunk).then(
        (result) => {
          ids[index] = result.id;
          this.#storedBytes += result.storedBytes;
        },
        (error: unknown) => {
          failure ??= error;
        },
      ));
    };
    try {
      for await (const piece of content as AsyncIterable<Buffer | string>) {
        if (failure !== undefined) break;
        const bytes = typeof piece === 'string' ? Buffer.from(piece) : piece;
        hash.update(bytes);
        size += bytes.length;
        for (const chunk of chunker.push(bytes)) await submit(chunk);
      }
      for (const chunk of chunker.finish()) await submit(chunk);
    } catch (error) {
      failure ??= error;
    }
    await Promise.all(pending);
    if (failure !== undefined) {
      content.destroy();
      if (failure instanceof RepositoryError) throw failure;
      throw new RepositoryError('invalid-argument', `addFile(${JSON.stringify(path)}) failed while reading or storing its content: ${failure instanceof Error ? failure.message : String(failure)}`, { object: path, cause: failure });
    }
    return Object.freeze({ path, size, mtimeMs: meta.mtimeMs, mode: meta.mode, sha256: hash.digest('hex'), chunks: Object.freeze(ids), storedIn: this.backupId });
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
