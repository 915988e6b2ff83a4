/**
 * The backup repository contract (DESIGN "repository"): content-addressed chunks with content-defined boundaries,
 * compressed then encrypted (authenticated), manifests encrypted too, a completion marker per backup, WAL segments as
 * whole objects. Filesystem first; object storage implements `RepositoryStorage` later.
 *
 * This file is the agreement between the repository (src/repository/) and its users (src/backup/); change it only
 * with both in mind.
 */
import type { Readable } from 'node:stream';

export type CompressionType = 'zstd' | 'gzip' | 'none';
export type BackupType = 'full' | 'differential' | 'incremental';

/** Where repository objects live. Keys are relative paths with `/` separators. Implementations must be safe for
 * concurrent writers of different keys, and `put` must be atomic (write to a temporary name, fsync, rename). */
export interface RepositoryStorage {
  readonly description: string;
  put(key: string, data: Buffer): Promise<void>;
  /** Like put, but never overwrites: resolves true when it stored the object, false (no error) when the key already
   * exists (used for chunks and WAL: first writer wins). */
  putIfAbsent(key: string, data: Buffer): Promise<boolean>;
  get(key: string): Promise<Buffer>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Keys under a prefix (recursive). */
  list(prefix: string): AsyncIterable<string>;
  /** Makes everything written so far durable (fsync of the directories touched). */
  sync(): Promise<void>;
}

export interface RepositoryOpenOptions {
  /** Passphrase that unwraps the master key (from an env var or key file; never stored in the repository). */
  passphrase: string;
  /** Parallel chunk workers (compression + encryption + writes). Default: number of CPUs. */
  workers?: number;
}

export interface RepositoryInitOptions extends RepositoryOpenOptions {
  compression?: CompressionType;
  /** zstd level (default 3) or gzip level (default 6). */
  compressionLevel?: number;
  /** Content-defined chunking: average/min/max chunk size in bytes (defaults 1 MiB / 256 KiB / 4 MiB). */
  chunkSize?: { average: number; min: number; max: number };
}

/** One file of a backup: its metadata and the ordered chunk ids that make up its content. */
export interface ManifestFileEntry {
  /** Path relative to the backed-up root, `/` separators. */
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly mode: number;
  /** SHA-256 of the whole plaintext content, hex. */
  readonly sha256: string;
  readonly chunks: readonly string[];
  /** Id of the backup whose run stored this file's content (itself, or an ancestor when unchanged). */
  readonly storedIn: string;
}

export interface BackupManifest {
  readonly formatVersion: 1;
  readonly backupId: string;
  readonly type: BackupType;
  /** The backup this one is relative to (none for full), and the whole chain down to the full. */
  readonly parent: string | undefined;
  readonly chain: readonly string[];
  readonly database: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly files: readonly ManifestFileEntry[];
  /** Small named blobs stored inline (encrypted with the manifest): backup_label, tablespace_map. */
  readonly blobs: Readonly<Record<string, string>>;
  /** Engine-specific facts: start/stop LSN, timeline, WAL range, server version, system identifier... */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Plaintext bytes of all files, and bytes newly stored by this backup (after dedup, compression). */
  readonly sizeBytes: number;
  readonly storedBytes: number;
}

export interface BackupSummary {
  readonly backupId: string;
  readonly type: BackupType;
  readonly parent: string | undefined;
  readonly database: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly sizeBytes: number;
  readonly storedBytes: number;
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface BackupWriter {
  readonly backupId: string;
  /** Chunks, dedups, compresses, encrypts and stores a file's content, in parallel with other addFile calls up to the
   * worker count (await the returned promise for backpressure). Resolves once the content's chunk ids are known; chunk
   * writes may still be running, and `complete()` waits for them (and reports a failed one). */
  addFile(path: string, content: Readable, meta: { size: number; mtimeMs: number; mode: number }): Promise<ManifestFileEntry>;
  /** Records an unchanged file by reusing an earlier manifest's entry (no content read). */
  reuseFile(entry: ManifestFileEntry): void;
  addBlob(name: string, text: string): void;
  setMetadata(metadata: Record<string, unknown>): void;
  /** Writes the encrypted manifest, syncs, then writes the completion marker: only now is the backup visible. */
  complete(): Promise<BackupManifest>;
  /** Leaves no visible trace (chunks already written are reclaimed by prune). */
  abort(): Promise<void>;
}

export interface VerifyProblem {
  readonly kind: 'missing-chunk' | 'corrupt-chunk' | 'file-hash-mismatch' | 'missing-wal' | 'corrupt-wal' | 'missing-manifest';
  readonly backupId: string;
  /** The file (or WAL segment) affected. */
  readonly path: string;
  readonly chunk?: string;
  readonly message: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly backupId: string;
  readonly chunksChecked: number;
  readonly bytesChecked: number;
  readonly problems: readonly VerifyProblem[];
}

export interface RepositoryLock {
  readonly mode: 'shared' | 'exclusive';
  release(): Promise<void>;
}

/**
 * A named lease on one task of the repository (a database's log capture, MariaDB binlog archiving) that at most one
 * process may do at a time. `lost` aborts if another process took the lease over (it judged this holder stale: its
 * heartbeat was older than the lease's staleness limit), so the holder stops instead of working beside the new one.
 */
export interface RepositoryLease {
  readonly name: string;
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

export interface PruneResult {
  readonly chunksRemoved: number;
  readonly bytesReclaimed: number;
  readonly dryRun: boolean;
}

/** What a repository offers (implemented by src/repository/backup-repository.ts). */
export interface Repository {
  readonly storage: RepositoryStorage;
  readonly compression: CompressionType;
  beginBackup(options: { type: BackupType; parent?: string; database: string }): Promise<BackupWriter>;
  /** Completed backups only (those with a completion marker), oldest first. */
  list(): Promise<BackupSummary[]>;
  manifest(backupId: string): Promise<BackupManifest>;
  /** Streams a file's plaintext, verifying every chunk (and the whole-file hash at the end). */
  readFile(entry: ManifestFileEntry): Readable;
  /** Re-reads and re-hashes every chunk the backup needs (the whole chain's) and names what is missing or corrupt. */
  verify(backupId: string): Promise<VerifyReport>;
  /** Stores a WAL segment (or .history/.backup file). Same name and same content: 'already-present'. Same name and
   * different content: throws a RepositoryError with reason 'wal-conflict'. */
  putWal(name: string, content: Buffer): Promise<'stored' | 'already-present'>;
  /** The plaintext of a WAL file, or undefined when the archive does not have it. */
  getWal(name: string): Promise<Buffer | undefined>;
  /** Stores or replaces `<segment>.stream`, a snapshot of a segment still being written (continuous streaming). */
  putWalSnapshot?(name: string, content: Buffer): Promise<void>;
  listWal(): Promise<string[]>;
  deleteWal(names: readonly string[]): Promise<void>;
  /** Removes a backup's completion marker then its manifest (its chunks go at the next prune). */
  deleteBackup(backupId: string): Promise<void>;
  /** Deletes chunks no completed backup references (and leftovers of interrupted backups). Needs the exclusive lock. */
  prune(options?: { dryRun?: boolean }): Promise<PruneResult>;
  lock(mode: 'shared' | 'exclusive', purpose: string, options?: { timeoutMs?: number }): Promise<RepositoryLock>;
  /**
   * Takes the lease `name` (letters, digits, dashes), waiting up to `timeoutMs` (0: one try) for another holder to
   * release it; RepositoryError('lock-timeout') names that holder. A holder that died on this host is taken over at
   * once; one on another host once its heartbeat is older than `staleAfterMs` (default 60 s).
   */
  lease(name: string, purpose: string, options?: { timeoutMs?: number; staleAfterMs?: number }): Promise<RepositoryLease>;
  addPassphrase(newPassphrase: string): Promise<void>;
  /** Stops the repository's worker threads (idempotent). Added after the first agreement, hence optional; the
   * filesystem repository always has it, and idle workers never keep the process alive either way. */
  close?(): Promise<void>;
}
