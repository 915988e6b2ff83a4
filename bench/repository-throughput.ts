// Throughput of the backup repository's stages and end to end, on a deterministic synthetic stream (8 KiB pages,
// compressible like table data, no duplicate chunks) or on a real directory. Usage:
//   node --import tsx bench/repository-throughput.ts [sizeMiB=1024] [workers=1,2] [compression=zstd[:level]] [source=file|generator|dir:PATH] [stages=on|off]
// source=file (default) writes the synthetic data to a temporary file first and backs that file up, as a database
// backup reads its files; source=generator streams straight from the generator (its cost then counts);
// source=dir:PATH backs up every file under PATH (e.g. a stopped copy of a `pgbench -i -s 100` data directory) with
// `workers` files at a time, as the PostgreSQL backup engine does (sizeMiB is then ignored).
// The "cpu" figure is user+system time of all the process's threads during the backup: wall time depends on what else
// the machine runs, CPU seconds per GiB much less so.
import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CompressionCodec } from '../src/repository/compression-codec.js';
import { ContentDefinedChunker, DEFAULT_CHUNK_SIZES, gearTable } from '../src/repository/content-defined-chunker.js';
import { initRepository } from '../src/repository/index.js';
import type { CompressionType, ManifestFileEntry } from '../src/repository/repository-types.js';
import { syntheticStream } from '../test/repository/synthetic-data.js';

const sizeMiB = Number(process.argv[2] ?? 1024);
const workerCounts = (process.argv[3] ?? '1,2').split(',').map(Number);
const [compressionName, levelText] = (process.argv[4] ?? 'zstd').split(':');
const compression = compressionName as CompressionType;
const compressionLevel = levelText === undefined ? undefined : Number(levelText);
const source = process.argv[5] ?? 'file';
const stages = (process.argv[6] ?? 'on') !== 'off';
const directory = source.startsWith('dir:') ? source.slice(4) : undefined;
const dirFiles = directory === undefined ? [] : listFiles(directory);
const size = directory === undefined ? sizeMiB * 1024 * 1024 : dirFiles.reduce((sum, f) => sum + f.size, 0);
console.log(`load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}, node ${process.version}`);

function listFiles(root: string): { path: string; absolute: string; size: number }[] {
  const out: { path: string; absolute: string; size: number }[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const absolute = join(dir, entry.name);
      if (entry.isDirectory()) walk(absolute);
      else if (entry.isFile()) out.push({ path: relative(root, absolute), absolute, size: statSync(absolute).size });
    }
  };
  walk(root);
  return out;
}
const mbps = (bytes: number, ns: bigint): string => (bytes / 1048576 / (Number(ns) / 1e9)).toFixed(0);

async function stage(name: string, bytes: number, each: (chunk: Buffer) => void): Promise<void> {
  // Stages run on chunks as the backup sees them (CDC output), so sizes match the real workload.
  const chunker = new ContentDefinedChunker(DEFAULT_CHUNK_SIZES, gearTable(randomBytes(1024)));
  let ns = 0n;
  for await (const piece of stageStream(bytes)) {
    for (const chunk of chunker.push(piece as Buffer)) {
      const t0 = process.hrtime.bigint();
      each(chunk);
      ns += process.hrtime.bigint() - t0;
    }
  }
  console.log(`${name.padEnd(28)} ${mbps(bytes, ns).padStart(6)} MB/s (one core)`);
}

const stageBytes = Math.min(size, 256 * 1048576);
/** Stage figures on the data being backed up: the synthetic stream, or the directory's largest file. */
function stageStream(bytes: number): AsyncIterable<unknown> {
  if (directory === undefined) return syntheticStream(bytes);
  const largest = dirFiles.reduce((a, b) => (b.size > a.size ? b : a));
  return createReadStream(largest.absolute, { highWaterMark: 256 * 1024, end: Math.min(bytes, largest.size) - 1 });
}
if (stages) {
  const chunker = new ContentDefinedChunker(DEFAULT_CHUNK_SIZES, gearTable(randomBytes(1024)));
  let ns = 0n;
  let chunks = 0;
  for await (const piece of stageStream(stageBytes)) {
    const t0 = process.hrtime.bigint();
    chunks += chunker.push(piece as Buffer).length;
    ns += process.hrtime.bigint() - t0;
  }
  chunks += chunker.finish().length;
  console.log(`${'chunking (FastCDC)'.padEnd(28)} ${mbps(stageBytes, ns).padStart(6)} MB/s (one core), average chunk ${(stageBytes / chunks / 1024).toFixed(0)} KiB`);
  const t0 = process.hrtime.bigint();
  for await (const _ of syntheticStream(stageBytes)) void _;
  ns = process.hrtime.bigint() - t0;
  console.log(`${'synthetic data generation'.padEnd(28)} ${mbps(stageBytes, ns).padStart(6)} MB/s (counts in end-to-end figures only with source=generator)`);
  const key = randomBytes(32);
  await stage('file sha256', stageBytes, (c) => createHash('sha256').update(c).digest());
  await stage('chunk id (HMAC-SHA256)', stageBytes, (c) => createHmac('sha256', key).update(c).digest());
  let compressed = 0;
  const codec = new CompressionCodec(compression, compressionLevel);
  await stage(`${compression} level ${codec.level}`, stageBytes, (c) => {
    compressed += codec.compress(c).length;
  });
  console.log(`${''.padEnd(28)} ratio ${(compressed / stageBytes).toFixed(3)}`);
  await stage('AES-256-GCM', stageBytes, (c) => {
    const cipher = createCipheriv('aes-256-gcm', key, randomBytes(12));
    cipher.update(c);
    cipher.final();
  });
}

const sourceDir = mkdtempSync(join(tmpdir(), 'dk-bench-source-'));
const sourceFile = join(sourceDir, 'data');
if (source === 'file') await pipeline(syntheticStream(size), createWriteStream(sourceFile));
const input = () => (source === 'file' ? createReadStream(sourceFile, { highWaterMark: 1 << 20 }) : syntheticStream(size));
for (const workers of workerCounts) {
  const dir = mkdtempSync(join(tmpdir(), 'dk-bench-repo-'));
  try {
    const repository = await initRepository(dir, { passphrase: 'bench passphrase', workers, compression, compressionLevel });
    const writer = await repository.beginBackup({ type: 'full', database: 'bench' });
    const load = loadavg()[0]!.toFixed(2);
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const entries = directory === undefined
      ? [await writer.addFile('base/1/16384', input(), { size, mtimeMs: 0, mode: 0o600 })]
      : await backupDirectory(writer, workers);
    const manifest = await writer.complete();
    const backupNs = process.hrtime.bigint() - t0;
    const cpu = process.cpuUsage(cpu0);
    const t1 = process.hrtime.bigint();
    let read = 0;
    for (const entry of entries) for await (const part of repository.readFile(entry)) read += (part as Buffer).length;
    const readNs = process.hrtime.bigint() - t1;
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const sys = `${(cpu.system / 1e6).toFixed(1)} s system`;
    console.log(`end to end (${source}), workers=${workers}: backup ${mbps(size, backupNs)} MB/s (${(Number(backupNs) / 1e9).toFixed(1)} s for ${(size / 1048576).toFixed(0)} MiB, cpu ${cpuSeconds.toFixed(1)} s = ${(cpuSeconds / (size / 2 ** 30)).toFixed(1)} s/GiB (${sys}), stored ${(manifest.storedBytes / 1048576).toFixed(0)} MiB, load ${load}), readFile ${mbps(read, readNs)} MB/s`);
    await repository.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
rmSync(sourceDir, { recursive: true, force: true });

/** Every file of the directory, `lanes` at a time, each read as the PostgreSQL backup engine reads it. */
async function backupDirectory(writer: Awaited<ReturnType<Awaited<ReturnType<typeof initRepository>>['beginBackup']>>, lanes: number) {
  const entries: ManifestFileEntry[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < dirFiles.length) {
      const file = dirFiles[next++]!;
      const handle = await open(file.absolute, 'r');
      try {
        const stream = handle.createReadStream({ highWaterMark: 1024 * 1024, autoClose: false });
        entries.push(await writer.addFile(file.path, stream, { size: file.size, mtimeMs: 0, mode: 0o600 }));
      } finally {
        await handle.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, lanes) }, lane));
  return entries;
}
