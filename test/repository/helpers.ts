import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { initRepository, openRepository } from '../../src/repository/index.js';
import type { BackupRepository } from '../../src/repository/index.js';
import type { ManifestFileEntry } from '../../src/repository/repository-types.js';

/** Small chunks keep tests quick while still producing many chunks per file. */
export const TEST_CHUNKS = { average: 64 * 1024, min: 16 * 1024, max: 256 * 1024 };
export const PASSPHRASE = 'test passphrase for the repository';

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function newRepository(path: string, workers = 2, compression: 'zstd' | 'gzip' | 'none' = 'zstd'): Promise<BackupRepository> {
  return initRepository(path, { passphrase: PASSPHRASE, workers, compression, chunkSize: TEST_CHUNKS });
}

export async function reopen(path: string, workers = 2): Promise<BackupRepository> {
  return openRepository(path, { passphrase: PASSPHRASE, workers });
}

export function meta(size: number): { size: number; mtimeMs: number; mode: number } {
  return { size, mtimeMs: 1_700_000_000_000, mode: 0o600 };
}

export async function readAll(repository: BackupRepository, entry: ManifestFileEntry): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of repository.readFile(entry)) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

export function streamOf(data: Buffer, piece = 10_000): Readable {
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; at += piece) parts.push(data.subarray(at, at + piece));
  return Readable.from(parts);
}

/** Count and total size of stored chunk objects. */
export async function chunkCount(repository: BackupRepository): Promise<number> {
  let n = 0;
  for await (const _ of repository.storage.list('chunks/')) n++;
  return n;
}
