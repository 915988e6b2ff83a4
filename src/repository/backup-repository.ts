import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { RepositoryError } from '../errors/repository-error.js';
import { logOperation } from '../util/log-operation.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { isBackupId, newBackupId } from './backup-id.js';
import { fileReadStream } from './chunk-reader.js';
import { ChunkStore } from './chunk-store.js';
import { ChunkWork } from './chunk-work.js';
import { ChunkWorkerPool } from './chunk-worker-pool.js';
import { gearTable } from './content-defined-chunker.js';
import { wrapMasterKey } from './key-file.js';
import { pruneRepository } from './prune-repository.js';
import type { RepositoryConfig } from './repository-config.js';
import type { RepositoryKeys } from './repository-keys.js';
import { RepositoryLocks, type LockTimings } from './repository-locks.js';
import { RepositoryBackupWriter } from './repository-backup-writer.js';
import { repositoryPaths } from './repository-paths.js';
import type {
  BackupManifest,
  BackupSummary,
  BackupType,
  BackupWriter,
  CompressionType,
  ManifestFileEntry,
  PruneResult,
  Repository,
  RepositoryLease,
  RepositoryLock,
  RepositoryStorage,
  VerifyReport,
} from './repository-types.js';
import { verifyBackup } from './verify-backup.js';
import { WalArchive } from './wal-archive.js';

/** Content of `backups/<id>/complete`: the manifest's hash (a marker cannot vouch for another manifest) and the
 * summary `list()` shows without reading manifests. */
interface CompletionMarker {
  readonly backupId: string;
  readonly manifestSha256: string;
  readonly summary: BackupSummary;
}

export interface BackupRepositoryOptions {
  readonly workers: number;
  readonly lockTimings?: Partial<LockTimings>;
  readonly logger?: Logger;
}

/** The repository (see Repository in repository-types.ts); built by openRepository/initRepository. */
export class BackupRepository implements Repository {
  readonly storage: RepositoryStorage;
  readonly config: RepositoryConfig;
  readonly #masterKey: Buffer;
  readonly #work: ChunkWork;
  readonly #pool: ChunkWorkerPool;
  readonly #chunks: ChunkStore;
  readonly #wal: WalArchive;
  readonly #locks: RepositoryLocks;
  readonly #readAhead: number;
  readonly #logger: Logger;
  #exclusiveHeld = 0;
  #closed = false;

  constructor(storage: RepositoryStorage, config: RepositoryConfig, masterKey: Buffer, keys: RepositoryKeys, options: BackupRepositoryOptions) {
    this.storage = storage;
    this.config = config;
    this.#masterKey = masterKey;
    const settings = { encryptionKey: keys.encryption, chunkIdKey: keys.chunkId, compression: config.compression, compressionLevel: config.compressionLevel };
    this.#work = new ChunkWork(settings);
    this.#pool = new ChunkWorkerPool({ ...settings, chunking: config.chunking, gear: gearTable(keys.gearSeed) }, options.workers);
    const parallel = Math.max(1, options.workers);
    // As many bytes as (2 × workers + 2) chunks of the largest size: memory stays bounded by what the config allows.
    this.#chunks = new ChunkStore(storage, this.#pool, (parallel * 2 + 2) * config.chunking.max);
    this.#readAhead = parallel * 2;
    this.#wal = new WalArchive(storage, this.#work);
    this.#locks = new RepositoryLocks(storage, options.lockTimings);
    this.#logger = options.logger ?? silentLogger;
  }

  get compression(): CompressionType {
    return this.config.compression;
  }

  async beginBackup(options: { type: BackupType; parent?: string; database: string }): Promise<BackupWriter> {
    this.#assertOpen();
    const { type, parent, database } = options;
    if (!['full', 'differential', 'incremental'].includes(type)) {
      throw new RepositoryError('invalid-argument', `beginBackup: type must be 'full', 'differential' or 'incremental' (got ${JSON.stringify(type)})`);
    }
    if (type === 'full' ? parent !== undefined : parent === undefined) {
      throw new RepositoryError('invalid-argument', `beginBackup: a ${type} backup ${type === 'full' ? 'takes no parent' : 'needs parent: the id of the backup it is relative to'}`);
    }
    if (typeof database !== 'string' || database === '') throw new RepositoryError('invalid-argument', 'beginBackup: database must be a non-empty name');
    const lock = await this.#locks.acquire('shared', `backup of ${database}`);
    try {
      const chain = parent === undefined ? [] : [...(await this.manifest(parent)).chain, parent];
      await this.#chunks.loadIndex();
      return new RepositoryBackupWriter(
        { chunks: this.#chunks, beginScan: (expectedSize) => this.#pool.beginScan(expectedSize), commit: (manifest) => this.#loggedCommit(manifest) },
        { backupId: newBackupId(), type, parent, chain, database, lock },
      );
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  async list(): Promise<BackupSummary[]> {
    this.#assertOpen();
    const summaries: BackupSummary[] = [];
    for (const backupId of await this.#completedIds()) {
      const marker = await this.#marker(backupId).catch(() => undefined);
      if (marker !== undefined) summaries.push(marker.summary);
    }
    return summaries.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.backupId.localeCompare(b.backupId));
  }

  async manifest(backupId: string): Promise<BackupManifest> {
    this.#assertOpen();
    const marker = await this.#marker(backupId);
    const key = repositoryPaths.manifest(backupId);
    let stored: Buffer;
    try {
      stored = await this.storage.get(key);
    } catch (cause) {
      throw new RepositoryError('missing-object', `backup ${backupId} is marked complete but its manifest (${key}) is missing; the backup cannot be restored`, { object: key, cause });
    }
    if (createHash('sha256').update(stored).digest('hex') !== marker.manifestSha256) {
      throw new RepositoryError('corrupt-object', `backup ${backupId}: its manifest does not match the hash in its completion marker`, { object: key });
    }
    return JSON.parse(this.#work.decode(key, stored).toString('utf8')) as BackupManifest;
  }

  readFile(entry: ManifestFileEntry): Readable {
    this.#assertOpen();
    return fileReadStream(this.storage, this.#pool, entry, this.#readAhead);
  }

  async verify(backupId: string): Promise<VerifyReport> {
    this.#assertOpen();
    return verifyBackup(this, this.storage, this.#pool, backupId, this.#readAhead);
  }

  putWal(name: string, content: Buffer): Promise<'stored' | 'already-present'> {
    this.#assertOpen();
    return this.#wal.put(name, content);
  }

  getWal(name: string): Promise<Buffer | undefined> {
    this.#assertOpen();
    return this.#wal.get(name);
  }

  putWalSnapshot(name: string, content: Buffer): Promise<void> {
    this.#assertOpen();
    return this.#wal.putSnapshot(name, content);
  }

  listWal(): Promise<string[]> {
    this.#assertOpen();
    return this.#wal.list();
  }

  deleteWal(names: readonly string[]): Promise<void> {
    this.#assertOpen();
    return this.#wal.delete(names);
  }

  async deleteBackup(backupId: string): Promise<void> {
    this.#assertOpen();
    this.#assertBackupId(backupId);
    // Marker first: from that moment the backup is invisible; a crash before the manifest goes leaves a leftover that
    // prune removes.
    await this.storage.delete(repositoryPaths.marker(backupId));
    await this.storage.sync();
    await this.storage.delete(repositoryPaths.manifest(backupId));
    await this.storage.sync();
  }

  async prune(options: { dryRun?: boolean; timeoutMs?: number } = {}): Promise<PruneResult> {
    this.#assertOpen();
    const lock = this.#exclusiveHeld > 0 ? undefined : await this.lock('exclusive', options.dryRun === true ? 'prune (dry run)' : 'prune', { timeoutMs: options.timeoutMs });
    try {
      const result = await this.#logged('repository.prune', { dryRun: options.dryRun === true }, () => pruneRepository(this, this.storage, options.dryRun === true), (r) => ({ chunksRemoved: r.chunksRemoved, bytesReclaimed: r.bytesReclaimed }));
      this.#chunks.forget(result.removedIds);
      return { chunksRemoved: result.chunksRemoved, bytesReclaimed: result.bytesReclaimed, dryRun: result.dryRun };
    } finally {
      await lock?.release();
    }
  }

  async lock(mode: 'shared' | 'exclusive', purpose: string, options: { timeoutMs?: number } = {}): Promise<RepositoryLock> {
    this.#assertOpen();
    const lock = await this.#locks.acquire(mode, purpose, options.timeoutMs);
    if (mode === 'shared') return lock;
    this.#exclusiveHeld++;
    let released = false;
    return {
      mode,
      release: async () => {
        if (released) return;
        released = true;
        this.#exclusiveHeld--;
        await lock.release();
      },
    };
  }

  lease(name: string, purpose: string, options: { timeoutMs?: number; staleAfterMs?: number } = {}): Promise<RepositoryLease> {
    this.#assertOpen();
    return this.#locks.lease(name, purpose, options);
  }

  async addPassphrase(newPassphrase: string): Promise<void> {
    this.#assertOpen();
    if (typeof newPassphrase !== 'string' || newPassphrase.length < 8) {
      throw new RepositoryError('invalid-argument', 'addPassphrase: the new passphrase must be a string of at least 8 characters');
    }
    const keyFile = await wrapMasterKey(this.#masterKey, newPassphrase);
    await this.storage.put(repositoryPaths.keyFile(randomBytes(8).toString('hex')), Buffer.from(JSON.stringify(keyFile, null, 2)));
  }

  /** Stops the chunk workers. Idempotent; the repository refuses further calls. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close();
  }

  /** Ids of backups that have a completion marker (unsorted). */
  async #completedIds(): Promise<string[]> {
    const ids: string[] = [];
    for await (const key of this.storage.list('backups/')) {
      const [, backupId, name] = key.split('/');
      if (name === 'complete' && backupId !== undefined) ids.push(backupId);
    }
    return ids;
  }

  async #marker(backupId: string): Promise<CompletionMarker> {
    this.#assertBackupId(backupId);
    const key = repositoryPaths.marker(backupId);
    let stored: Buffer;
    try {
      stored = await this.storage.get(key);
    } catch (cause) {
      throw new RepositoryError('backup-not-found', `backup ${backupId} does not exist or is not complete (no completion marker); run list() for the backups that can be restored`, { object: backupId, cause });
    }
    return JSON.parse(this.#work.decode(key, stored).toString('utf8')) as CompletionMarker;
  }

  async #commit(manifest: BackupManifest): Promise<void> {
    const manifestKey = repositoryPaths.manifest(manifest.backupId);
    const encoded = this.#work.encode(manifestKey, Buffer.from(JSON.stringify(manifest)));
    // Chunks first (their directory entries), then the manifest, then the marker: a marker never points at anything
    // that is not durably stored.
    await this.storage.sync();
    await this.storage.put(manifestKey, encoded);
    await this.storage.sync();
    const { files: _files, blobs: _blobs, formatVersion: _v, chain: _chain, ...summary } = manifest;
    const marker: CompletionMarker = { backupId: manifest.backupId, manifestSha256: createHash('sha256').update(encoded).digest('hex'), summary };
    const markerKey = repositoryPaths.marker(manifest.backupId);
    await this.storage.put(markerKey, this.#work.encode(markerKey, Buffer.from(JSON.stringify(marker))));
    await this.storage.sync();
  }

  #assertBackupId(backupId: string): void {
    if (typeof backupId !== 'string' || !isBackupId(backupId)) {
      throw new RepositoryError('invalid-argument', `backup id ${JSON.stringify(backupId)} is not a datakeep backup id (like 20261128T203000Z-123a1b2c3d); take ids from list()`, { object: String(backupId) });
    }
  }

  #loggedCommit(manifest: BackupManifest): Promise<void> {
    const { backupId, database, type, files, sizeBytes, storedBytes, startedAt } = manifest;
    return this.#logged('repository.backup-complete', { backupId, database, type }, () => this.#commit(manifest), () => ({ files: files.length, sizeBytes, storedBytes, startedAt }));
  }

  #logged<T>(operation: string, fields: Record<string, unknown>, fn: () => Promise<T>, result: (value: T) => Record<string, unknown>): Promise<T> {
    return logOperation(this.#logger, operation, { repository: this.storage.description, ...fields }, fn, { result });
  }

  #assertOpen(): void {
    if (this.#closed) throw new RepositoryError('closed', `repository ${this.storage.description} is closed; open it again`);
  }
}
