import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { RepositoryError } from '../../src/errors/index.js';
import { initRepository, openRepository } from '../../src/repository/index.js';
import { meta, newRepository, PASSPHRASE, readAll, reopen, streamOf, tempDir } from './helpers.js';
import { syntheticBuffer, syntheticStream } from './synthetic-data.js';
import { createHash } from 'node:crypto';

describe('repository round trip', () => {
  const dir = tempDir('dk-repo-rt-');
  after(() => dir.remove());

  it('stores and reads back empty, small and multi-chunk files, with manifest, blobs and metadata', async () => {
    const path = join(dir.path, 'basic');
    const repository = await newRepository(path, 2);
    const small = Buffer.from('hello, datakeep\n');
    const multi = await syntheticBuffer(1_500_000, 3);
    try {
      const writer = await repository.beginBackup({ type: 'full', database: 'main' });
      const [empty, one, many] = await Promise.all([
        writer.addFile('empty', Readable.from([]), meta(0)),
        writer.addFile('dir/small.txt', streamOf(small), meta(small.length)),
        writer.addFile('base/1/16384', streamOf(multi, 65536), meta(multi.length)),
      ]);
      assert.equal(empty.chunks.length, 0);
      assert.equal(one.chunks.length, 1);
      assert.ok(many.chunks.length > 5, `expected many chunks, got ${many.chunks.length}`);
      writer.addBlob('backup_label', 'START WAL LOCATION: 0/2000028');
      writer.setMetadata({ startLsn: '0/2000028' });
      const manifest = await writer.complete();
      assert.equal(manifest.sizeBytes, small.length + multi.length);
      assert.ok(manifest.storedBytes > 0 && manifest.storedBytes < multi.length, `storedBytes ${manifest.storedBytes}`);

      const listed = await repository.list();
      assert.deepEqual(listed.map((b) => b.backupId), [manifest.backupId]);
      assert.equal(listed[0]!.storedBytes, manifest.storedBytes);
      const readBack = await repository.manifest(manifest.backupId);
      assert.deepEqual(readBack.blobs, { backup_label: 'START WAL LOCATION: 0/2000028' });
      assert.deepEqual(readBack.metadata, { startLsn: '0/2000028' });
      const byPath = new Map(readBack.files.map((f) => [f.path, f]));
      assert.equal((await readAll(repository, byPath.get('empty')!)).length, 0);
      assert.ok((await readAll(repository, byPath.get('dir/small.txt')!)).equals(small));
      assert.ok((await readAll(repository, byPath.get('base/1/16384')!)).equals(multi));
      assert.equal(byPath.get('base/1/16384')!.sha256, createHash('sha256').update(multi).digest('hex'));
    } finally {
      await repository.close();
    }
  });

  it('a stream of small odd-sized pieces (as a socket gives) crosses to the workers in partly filled batches, intact, leaving the caller\'s memory alone', async () => {
    const repository = await newRepository(join(dir.path, 'odd-pieces'), 2);
    // 7,777-byte views of one buffer: no 1 MiB batch fills exactly, so every batch moves to its worker partly filled.
    const data = await syntheticBuffer(3_500_000, 5);
    const digest = createHash('sha256').update(data).digest('hex');
    try {
      const writer = await repository.beginBackup({ type: 'full', database: 'main' });
      const entry = await writer.addFile('stream', streamOf(data, 7_777), meta(Number.POSITIVE_INFINITY));
      await writer.complete();
      assert.equal(data.length, 3_500_000, "the caller's buffer was moved away (detached)");
      assert.equal(createHash('sha256').update(data).digest('hex'), digest, "the caller's buffer changed");
      assert.equal(entry.size, data.length);
      assert.equal(entry.sha256, digest);
      assert.ok((await readAll(repository, entry)).equals(data));
    } finally {
      await repository.close();
    }
  });

  it('works the same inline (workers 0) and with gzip and no compression', async () => {
    const data = await syntheticBuffer(400_000, 4);
    for (const compression of ['gzip', 'none'] as const) {
      const repository = await newRepository(join(dir.path, `c-${compression}`), 0, compression);
      try {
        const writer = await repository.beginBackup({ type: 'full', database: 'main' });
        const entry = await writer.addFile('f', streamOf(data), meta(data.length));
        await writer.complete();
        assert.ok((await readAll(repository, entry)).equals(data));
        assert.equal(repository.compression, compression);
      } finally {
        await repository.close();
      }
    }
  });

  it('a 200 MB file streams in and out with flat memory', async () => {
    const size = 200 * 1024 * 1024;
    const repository = await initRepository(join(dir.path, 'large'), { passphrase: PASSPHRASE, workers: 2 });
    try {
      // Warm up first (worker threads load, zstd contexts, stream buffers): what must stay flat is the growth with size.
      const warmUp = await repository.beginBackup({ type: 'full', database: 'main' });
      await warmUp.addFile('warm-up', syntheticStream(8 * 1024 * 1024, 98), meta(8 * 1024 * 1024));
      await warmUp.abort();
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      const writer = await repository.beginBackup({ type: 'full', database: 'main' });
      const entry = await writer.addFile('big', syntheticStream(size, 99), meta(size));
      await writer.complete();
      const hash = createHash('sha256');
      let read = 0;
      for await (const part of repository.readFile(entry)) {
        hash.update(part as Buffer);
        read += (part as Buffer).length;
      }
      clearInterval(sampler);
      const expected = createHash('sha256');
      for await (const part of syntheticStream(size, 99)) expected.update(part as Buffer);
      assert.equal(read, size);
      assert.equal(hash.digest('hex'), expected.digest('hex'));
      const growth = (peak - baseline) / 1048576;
      console.log(`# 200 MB round trip: rss baseline ${(baseline / 1048576).toFixed(0)} MiB, peak +${growth.toFixed(0)} MiB, ${entry.chunks.length} chunks`);
      assert.ok(growth < 150, `rss grew by ${growth.toFixed(0)} MiB during a 200 MB round trip`);
    } finally {
      await repository.close();
    }
  });

  it('a wrong passphrase is a clear error; a second passphrase opens it; a copy elsewhere opens with the passphrase alone', async () => {
    const path = join(dir.path, 'keys');
    const repository = await newRepository(path, 1);
    const data = await syntheticBuffer(300_000, 5);
    let backupId: string;
    try {
      const writer = await repository.beginBackup({ type: 'full', database: 'main' });
      await writer.addFile('f', streamOf(data), meta(data.length));
      backupId = (await writer.complete()).backupId;
      await repository.addPassphrase('a second passphrase');
    } finally {
      await repository.close();
    }
    await assert.rejects(openRepository(path, { passphrase: 'not the passphrase', workers: 0 }), (error: unknown) => {
      assert.ok(error instanceof RepositoryError);
      assert.equal(error.reason, 'wrong-passphrase');
      assert.match(error.message, /passphrase does not unlock/);
      assert.doesNotMatch(error.message, /not the passphrase/);
      return true;
    });
    const second = await openRepository(path, { passphrase: 'a second passphrase', workers: 0 });
    try {
      assert.deepEqual((await second.list()).map((b) => b.backupId), [backupId]);
    } finally {
      await second.close();
    }
    const copy = join(dir.path, 'copied-elsewhere');
    cpSync(path, copy, { recursive: true });
    const copied = await reopen(copy, 1);
    try {
      const manifest = await copied.manifest(backupId);
      assert.ok((await readAll(copied, manifest.files[0]!)).equals(data));
      assert.equal(copied.config.chunking.average, 64 * 1024);
    } finally {
      await copied.close();
    }
  });

  it('refuses to init over a repository, to open a directory that is not one, and bad options, naming the problem', async () => {
    const path = join(dir.path, 'refusals');
    const repository = await newRepository(path, 0);
    await repository.close();
    await assert.rejects(newRepository(path, 0), (e: unknown) => e instanceof RepositoryError && e.reason === 'already-exists');
    await assert.rejects(reopen(join(dir.path, 'nothing-here'), 0), (e: unknown) => e instanceof RepositoryError && e.reason === 'not-a-repository');
    await assert.rejects(initRepository(join(dir.path, 'x'), { passphrase: PASSPHRASE, chunkSize: { average: 1000, min: 100, max: 4000 } }), /chunkSize.average must be a power of two/);
    await assert.rejects(initRepository(join(dir.path, 'x'), { passphrase: '' }), /passphrase is required/);
    const again = await reopen(path, 0);
    try {
      await assert.rejects(again.beginBackup({ type: 'incremental', database: 'main' }), /needs parent/);
      await assert.rejects(again.manifest('20260101T000000Z-000deadbeef'), (e: unknown) => e instanceof RepositoryError && e.reason === 'backup-not-found');
    } finally {
      await again.close();
    }
  });
});
