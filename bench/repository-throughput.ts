// Throughput of the backup repository's stages and end to end, on a deterministic synthetic stream (8 KiB pages,
// compressible like table data, no duplicate chunks). Usage:
//   node --import tsx bench/repository-throughput.ts [sizeMiB=1024] [workers=1,2] [compression=zstd] [source=file|generator]
// source=file (default) writes the synthetic data to a temporary file first and backs that file up, as a database
// backup reads its files; source=generator streams straight from the generator (its cost then counts).
import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompressionCodec } from '../src/repository/compression-codec.js';
import { ContentDefinedChunker, DEFAULT_CHUNK_SIZES, gearTable } from '../src/repository/content-defined-chunker.js';
import { initRepository } from '../src/repository/index.js';
import type { CompressionType } from '../src/repository/repository-types.js';
import { syntheticStream } from '../test/repository/synthetic-data.js';

const sizeMiB = Number(process.argv[2] ?? 1024);
const workerCounts = (process.argv[3] ?? '1,2').split(',').map(Number);
const compression = (process.argv[4] ?? 'zstd') as CompressionType;
const source = process.argv[5] ?? 'file';
const size = sizeMiB * 1024 * 1024;
const mbps = (bytes: number, ns: bigint): string => (bytes / 1048576 / (Number(ns) / 1e9)).toFixed(0);

async function stage(name: string, bytes: number, each: (chunk: Buffer) => void): Promise<void> {
  // Stages run on chunks as the backup sees them (CDC output), so sizes match the real workload.
  const chunker = new ContentDefinedChunker(DEFAULT_CHUNK_SIZES, gearTable(randomBytes(1024)));
  let ns = 0n;
  for await (const piece of syntheticStream(bytes)) {
    for (const chunk of chunker.push(piece as Buffer)) {
      const t0 = process.hrtime.bigint();
      each(chunk);
      ns += process.hrtime.bigint() - t0;
    }
  }
  console.log(`${name.padEnd(28)} ${mbps(bytes, ns).padStart(6)} MB/s (one core)`);
}

const stageBytes = Math.min(size, 256 * 1048576);
{
  const chunker = new ContentDefinedChunker(DEFAULT_CHUNK_SIZES, gearTable(randomBytes(1024)));
  let ns = 0n;
  let chunks = 0;
  for await (const piece of syntheticStream(stageBytes)) {
    const t0 = process.hrtime.bigint();
    chunks += chunker.push(piece as Buffer).length;
    ns += process.hrtime.bigint() - t0;
  }
  chunks += chunker.finish().length;
  console.log(`${'chunking (FastCDC)'.padEnd(28)} ${mbps(stageBytes, ns).padStart(6)} MB/s (one core), average chunk ${(stageBytes / chunks / 1024).toFixed(0)} KiB`);
}
{
  let ns = 0n;
  const t0 = process.hrtime.bigint();
  for await (const _ of syntheticStream(stageBytes)) void _;
  ns = process.hrtime.bigint() - t0;
  console.log(`${'synthetic data generation'.padEnd(28)} ${mbps(stageBytes, ns).padStart(6)} MB/s (counts in end-to-end figures only with source=generator)`);
}
const key = randomBytes(32);
await stage('file sha256', stageBytes, (c) => createHash('sha256').update(c).digest());
await stage('chunk id (HMAC-SHA256)', stageBytes, (c) => createHmac('sha256', key).update(c).digest());
let compressed = 0;
const codec = new CompressionCodec(compression);
await stage(`${compression} level ${codec.level}`, stageBytes, (c) => {
  compressed += codec.compress(c).length;
});
console.log(`${''.padEnd(28)} ratio ${(compressed / stageBytes).toFixed(3)}`);
await stage('AES-256-GCM', stageBytes, (c) => {
  const cipher = createCipheriv('aes-256-gcm', key, randomBytes(12));
  cipher.update(c);
  cipher.final();
});

const sourceDir = mkdtempSync(join(tmpdir(), 'dk-bench-source-'));
const sourceFile = join(sourceDir, 'data');
if (source === 'file') await pipeline(syntheticStream(size), createWriteStream(sourceFile));
const input = () => (source === 'file' ? createReadStream(sourceFile, { highWaterMark: 1 << 20 }) : syntheticStream(size));
for (const workers of workerCounts) {
  const dir = mkdtempSync(join(tmpdir(), 'dk-bench-repo-'));
  try {
    const repository = await initRepository(dir, { passphrase: 'bench passphrase', workers, compression });
    const writer = await repository.beginBackup({ type: 'full', database: 'bench' });
    const t0 = process.hrtime.bigint();
    const entry = await writer.addFile('base/1/16384', input(), { size, mtimeMs: 0, mode: 0o600 });
    const manifest = await writer.complete();
    const backupNs = process.hrtime.bigint() - t0;
    const t1 = process.hrtime.bigint();
    let read = 0;
    for await (const part of repository.readFile(entry)) read += (part as Buffer).length;
    const readNs = process.hrtime.bigint() - t1;
    console.log(`end to end (${source}), workers=${workers}: backup ${mbps(size, backupNs)} MB/s (${(Number(backupNs) / 1e9).toFixed(1)} s for ${sizeMiB} MiB, stored ${(manifest.storedBytes / 1048576).toFixed(0)} MiB), readFile ${mbps(read, readNs)} MB/s`);
    await repository.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
rmSync(sourceDir, { recursive: true, force: true });
